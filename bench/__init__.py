"""Benchmarks: plain scripts that print figures beside a raw baseline from the same run."""
