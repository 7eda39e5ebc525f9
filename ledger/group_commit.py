"""Commands from concurrent callers written together: one transaction for all the commands
that arrived while the previous one was being written.

The store takes one writer at a time (SQLite's lock; on PostgreSQL the library locks the
events table for each insert, so that the log's order is its commit order), and a durable
commit costs a flush to disk. Sixteen callers each committing alone queue for that lock and
that flush sixteen times; here they share one. Each command still succeeds or fails on its
own (``Ledger.execute_many``), in the order the commands arrived, and each caller gets its own
outcome. One caller alone pays a hand-over to the writer thread, nothing more.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from ledger.application import Ledger
from ledger.commands.models import Command
from ledger.commands.results import CommandResult, Outcome
from ledger.errors import LedgerError

MAX_BATCH = 100  # commands per transaction at most


@dataclass
class _Waiting:
    command: Command
    actor: str
    outcome: Future[Outcome] = field(default_factory=Future)


class GroupCommit:
    """``execute`` as ``Ledger.execute`` does, from any number of threads at once."""

    def __init__(self, ledger: Ledger, *, max_batch: int = MAX_BATCH) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self.waiting: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self.writer = threading.Thread(target=self._write, name="group-commit", daemon=True)
        self.writer.start()

    def execute(self, command: Command, *, actor: str) -> CommandResult:
        """Run one command (with those of other callers); raise the ``LedgerError`` that
        refused it, or the store's error if the transaction failed."""
        if not self.writer.is_alive():
            raise RuntimeError("the group commit writer has stopped")
        waiting = _Waiting(command, actor)
        self.waiting.put(waiting)
        outcome = waiting.outcome.result()
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome

    def close(self) -> None:
        """Write what is waiting, then stop."""
        self.waiting.put(None)
        self.writer.join()

    def _write(self) -> None:
        stopping = False
        while not stopping:
            first = self.waiting.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    following = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch.append(following)
            try:
                outcomes = self.ledger.execute_many(
                    [w.command for w in batch], actor=[w.actor for w in batch]
                )
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    waiting.outcome.set_result(outcome)
            except Exception as error:  # the store, not a command: every caller hears it
                for waiting in batch:
                    if not waiting.outcome.done():
                        waiting.outcome.set_exception(error)
