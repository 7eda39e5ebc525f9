"""Commands: pydantic models (models.py) and the handlers that run them (handlers.py)."""

from ledger.commands.models import COMMANDS, AnyCommand, Command, parse_command

__all__ = ["COMMANDS", "AnyCommand", "Command", "parse_command"]
