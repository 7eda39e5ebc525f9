"""The HTTP API: a FastAPI app over every command and view."""
