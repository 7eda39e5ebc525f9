"""What a report states about its reading: which reading of the log (as known now, as known
at T, as occurred by T), the log position it was computed up to, and the digest of the log at
that position, the one `ledger digest` prints when the log ends there. With the stamp a saved
report can be computed again (`ledger report check`) and the log proved unchanged since."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger.application import Ledger
from ledger.integrity import Integrity
from ledger.sql import iso
from replay.core import Reading


@dataclass(frozen=True)
class Stamp:
    reading: Reading
    position: int
    digest: str | None  # None: the log up to the position does not verify (``problems``)
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def log_verifies(self) -> bool:
        return self.digest is not None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "kind": self.reading.kind,
            "at": iso(self.reading.at),
            "position": self.position,
            "digest": self.digest,
            "describe": self.reading.describe(),
            "log_verifies": self.log_verifies,
        }
        if self.problems:
            found["problems"] = self.problems
        return found

    def line(self) -> str:
        """The stamp on one line, for a table or a comment line."""
        if self.digest is None:
            digest = (
                f"no digest: the log does not verify up to this position "
                f"({len(self.problems)} streams do not match; `ledger verify` names them)"
            )
        else:
            digest = f"digest {self.digest}"
        if self.reading.position == self.position:  # the reading names it already
            return f"{self.reading.describe()}, {digest}"
        return f"{self.reading.describe()}, log position {self.position}, {digest}"


def stamp_of(
    ledger: Ledger, reading: Reading, position: int, progress: Callable[[int], None] | None = None
) -> Stamp:
    """The stamp of a report computed from the log up to ``position`` under ``reading``."""
    integrity = Integrity(ledger)
    try:
        found = integrity.at_position(position, progress)
    finally:
        integrity.close()
    if found.ok:
        return Stamp(reading, position, found.digest())
    return Stamp(reading, position, None, [p.to_dict() for p in found.problems])
