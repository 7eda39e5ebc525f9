"""Errors a user can meet. Each says what was wrong, where, and what to do.

The HTTP layer maps the classes to status codes: ``CommandInvalid`` 422,
``UnknownReference`` 404, ``RuleViolation`` and ``Conflict`` 409 (see ``api.problems``).
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error the ledger reports to its users."""

    code = "ledger_error"

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class CommandInvalid(LedgerError):
    """The command itself is malformed: a missing field, a bad value, an unknown type."""

    code = "invalid_command"

    def __init__(
        self, message: str, *, where: str = "", errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message, where=where)
        self.errors = errors or []


class UnknownReference(LedgerError):
    """A customer, rep, campaign or entry that the ledger has never seen."""

    code = "unknown_reference"


class Forbidden(LedgerError):
    """The caller's role may not do this (``ledger/authorization.py``)."""

    code = "forbidden"


class RuleViolation(LedgerError):
    """A state rule of an aggregate refused the command; ``rule`` names it."""

    code = "rule_violation"
    rule = "rule"

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(message, where=where)

    def __reduce__(self) -> tuple[Any, tuple[str, str, str]]:
        """Pickled by its rule: a class ``rule`` made has no name to be found by (an import
        process hands its refusals to its parent)."""
        return _violation, (self.rule, self.message, self.where)


def _violation(name: str, message: str, where: str) -> RuleViolation:
    return rule(name)(message, where=where)


class ViewNotBuilt(LedgerError):
    """A query needs a view whose tables the runner has not created yet."""

    code = "view_not_built"


class AccessNotRecorded(LedgerError):
    """The access log could not record a read (ledger/access_log.py): the read is refused,
    since a read nobody can account for must not happen. The store's error is its cause."""

    code = "access_not_recorded"


class Conflict(LedgerError):
    """The command collides with what is already written."""

    code = "conflict"


class DuplicateReference(Conflict):
    code = "duplicate_reference"


class VersionConflict(Conflict):
    code = "version_conflict"


class CommandIdReused(Conflict):
    code = "command_id_reused"


class BatchRefused(LedgerError):
    """An all-or-nothing batch in which some commands were refused: nothing was written.
    ``failures`` pairs each refused command's index with its error."""

    code = "batch_refused"

    def __init__(self, failures: list[tuple[int, LedgerError]]) -> None:
        first_index, first = failures[0]
        super().__init__(
            f"{len(failures)} command(s) refused, so none was written; the first, "
            f"#{first_index}: {first}",
            where=f"commands[{first_index}]",
        )
        self.failures = failures


def rule(name: str) -> type[RuleViolation]:
    """A ``RuleViolation`` subclass whose ``rule`` attribute is ``name``."""
    class_name = "".join(part.title() for part in name.split("_")) + "Error"
    return type(class_name, (RuleViolation,), {"rule": name, "code": name})


def a(word: str) -> str:
    """``word`` with its indefinite article: "a rep", "an analyst"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
