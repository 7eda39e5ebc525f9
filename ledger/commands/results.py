"""What a command wrote (``CommandResult``), or why it was refused (a ``LedgerError``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from ledger.errors import LedgerError


class WrittenEvent(NamedTuple):
    version: int
    type: str
    position: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "type": self.type, "position": self.position}


@dataclass
class CommandResult:
    """What a command wrote: where, at which version and log position. (Not frozen: a batch
    makes one per command before its events are logged, and gives it their positions after.)"""

    command: str
    target: str
    ref: str
    id: UUID
    version: int
    events: tuple[WrittenEvent, ...]
    entry_id: str | None = None
    command_id: str | None = None
    duplicate: bool = False

    @property
    def position(self) -> int | None:
        return self.events[-1].position if self.events else None

    @property
    def event_ids(self) -> list[str]:
        return [f"{self.ref}#{e.version}" for e in self.events]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.stored(),
            "events": [e.to_dict() for e in self.events],
            "position": self.position,
            "duplicate": self.duplicate,
        }

    def stored(self) -> dict[str, Any]:
        """What the command log keeps of it (``from_dict`` reads it back): positions are
        known only once written."""
        return {
            "command": self.command,
            "target": self.target,
            "ref": self.ref,
            "id": str(self.id),
            "version": self.version,
            "entry_id": self.entry_id,
            "command_id": self.command_id,
            "event_ids": self.event_ids,
            "events": [{"version": e.version, "type": e.type} for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, position: int | None) -> CommandResult:
        events = tuple(WrittenEvent(e["version"], e["type"]) for e in data["events"])
        if events:
            last = events[-1]
            events = (*events[:-1], WrittenEvent(last.version, last.type, position))
        return cls(
            command=data["command"],
            target=data["target"],
            ref=data["ref"],
            id=UUID(data["id"]),
            version=data["version"],
            events=events,
            entry_id=data.get("entry_id"),
            command_id=data.get("command_id"),
            duplicate=True,
        )


Outcome = CommandResult | LedgerError


def as_duplicate(result: CommandResult) -> CommandResult:
    """The result again, for a command recognised as one already run."""
    return CommandResult(**{**result.__dict__, "duplicate": True})
