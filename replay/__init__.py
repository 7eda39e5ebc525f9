"""Replays of the log as known at a time, or as occurred by a time, into a throwaway store."""
