"""The ledger application: the one entry point that executes commands, and reads aggregates.

``Ledger.execute`` runs one command; ``Ledger.execute_many`` runs a batch in as few
transactions as it can (one, unless a concurrent writer interferes), each command
succeeding or failing on its own: a refused command leaves no trace.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    IntegrityError,
    Mapper,
    Recording,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger import clock, library, migrations
from ledger.aggregates import Campaign, Customer, Rep
from ledger.aggregates.base import LedgerAggregate
from ledger.chain import ERASED, ChainedMapper
from ledger.collector import collector_paused
from ledger.commands.handlers import HANDLERS
from ledger.commands.models import Command, HireRep, LaunchCampaign, RegisterCustomer
from ledger.commands.results import CommandResult, Outcome, WrittenEvent, as_duplicate
from ledger.config import Settings
from ledger.errors import (
    BatchRefused,
    CommandIdReused,
    DuplicateReference,
    LedgerError,
    UnknownReference,
    VersionConflict,
)
from ledger.ids import Kind, stream_id
from ledger.library import size_sqlite_pool
from ledger.sealing import CustomerKeys
from ledger.secrets import Secrets
from ledger.sql import Database
from ledger.store import CommandRow, LedgerRecorder, RecordedCommand, creation_lock

A = TypeVar("A", bound=LedgerAggregate)

KINDS: dict[Kind, type[LedgerAggregate]] = {"customer": Customer, "rep": Rep, "campaign": Campaign}
# The commands that start a stream.
CREATING: frozenset[type[Command]] = frozenset({RegisterCustomer, HireRep, LaunchCampaign})


class Ledger(library.SavingApplication):
    name = "Ledger"
    is_snapshotting_enabled = True

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.listeners: list[threading.Event] = []  # set after each save (wakes runners)
        # Per instance, so that each store can choose its interval.
        self.snapshotting_intervals = {Customer: self.settings.snapshot_interval}  # type: ignore[misc]
        super().__init__(env=self.settings.eventsourcing_env())
        self.secrets = Secrets(Database.of(self))
        if self.settings.create_tables:
            self.secrets.create_table()
        self._fingerprint_key = self.secrets.get("fingerprints")
        self.index_key = self.secrets.get("blind-index")  # keys the views' blind indexes
        self._keys()
        datastore = getattr(self.recorder, "datastore", None)
        if isinstance(datastore, SQLiteDatastore):
            # The library keeps 5 SQLite connections and closes any beyond them after each
            # use; an API serving more concurrent requests would open and close one per
            # request. And it allows 10 more at once: fewer than the API's 40 worker threads,
            # so writers waiting for the lock could leave a read on the event loop waiting
            # for a connection. (On PostgreSQL, LEDGER_POOL_SIZE sizes the library's pool.)
            size_sqlite_pool(datastore, kept=self.settings.pool_size, overflow_at_least=64)

    def close(self) -> None:
        mapper = self.mapper
        if isinstance(mapper, ChainedMapper) and mapper.keys is not None:
            mapper.keys.db.close()  # its SQLite writer, if it opened one
        self.secrets.db.close()
        super().close()

    def fingerprint(self, command: Command) -> str:
        """What makes two commands with one command_id the same command, as the command log
        keeps it: a keyed hash of the command, which tells bodies apart and does not show
        one (a body holds personal data; the log outlives a customer's key). Kept on the
        command: an import asks twice (its line's id, then the batch)."""
        known = command.fingerprints.get(self._fingerprint_key)
        if known is None:
            body = command.canonical().encode()
            known = "fp1:" + hmac.new(self._fingerprint_key, body, hashlib.sha256).hexdigest()
            command.fingerprints[self._fingerprint_key] = known
        return known

    def same_command(self, command: Command, fingerprint: str) -> bool:
        """Whether ``command`` is the one recorded with ``fingerprint`` (written by this
        version, or, before it, as the command's text)."""
        if fingerprint.startswith("fp1:"):
            return hmac.compare_digest(fingerprint, self.fingerprint(command))
        return fingerprint == command.canonical()

    def construct_recorder(self) -> ApplicationRecorder:
        """The store's schema version is checked (once per process) and brought up to this
        code's before the library makes any table (ledger/migrations.py)."""
        migrations.at_start(self.settings, getattr(self.factory, "datastore", None))
        return super().construct_recorder()

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """The library creates the snapshots' table without a lock: on PostgreSQL, take the
        one the events' table is created under."""
        datastore = getattr(self.factory, "datastore", None)
        if not isinstance(datastore, PostgresDatastore) or not self.settings.create_tables:
            return super().construct_snapshot_store()
        with creation_lock(datastore):
            return super().construct_snapshot_store()

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, chaining each stored event to its stream's previous one
        (ledger/chain.py)."""
        mapper = self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=ChainedMapper
        )
        assert isinstance(mapper, ChainedMapper)
        mapper.fetch_head = self._stored_event
        return mapper

    def _keys(self) -> None:
        """Customers' keys live in the store, beside (not in) the events."""
        mapper = self.mapper
        assert isinstance(mapper, ChainedMapper)
        mapper.keys = CustomerKeys(Database.of(self))
        if self.settings.create_tables:
            mapper.keys.create_table()

    def _stored_event(self, stream: UUID | str, version: int) -> StoredEvent | None:
        found = self.recorder.select_events(stream, gt=version - 1, lte=version, limit=1)
        return found[0] if found else None

    def recorded(self, recordings: list[Recording[UUID]]) -> None:
        for listener in self.listeners:
            listener.set()

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        assert isinstance(self.recorder, LedgerRecorder)
        return self.recorder

    # -- commands ----------------------------------------------------------------------------

    def execute(self, command: Command, *, actor: str) -> CommandResult:
        """Run one command; raise the ``LedgerError`` that refused it."""
        outcome = self.execute_many([command], actor=actor)[0]
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome

    def execute_many(
        self,
        commands: Sequence[Command],
        *,
        actor: str | Sequence[str],
        recorded_at: Sequence[datetime] | None = None,
        atomic: bool = False,
    ) -> list[Outcome]:
        """Run commands in order, in one transaction; each outcome is a result or the error.

        ``actor`` is who records them: one for all, or one per command. ``recorded_at``
        (one instant per command) backdates recording, for building demo worlds and
        tests; production callers leave it out. ``atomic``: all or nothing, raising
        ``BatchRefused`` (and writing nothing) if any command is refused.
        """
        actors = [actor] * len(commands) if isinstance(actor, str) else list(actor)
        # Streams the batch would create that do not exist: asked once, not loaded one by one.
        new = {stream_id(c.target, c.target_ref()) for c in commands if type(c) in CREATING}
        absent = new - self.ledger_recorder.existing_streams(sorted(new)) if new else set()
        # A command on a stream that does not exist yet cannot have been recorded (a stream,
        # once begun, is never removed), so only the other commands' ids are looked up: an
        # import of new customers asks nothing. An id used before for another stream is then
        # stopped by the command log's key, and the batch runs again with it looked up.
        looked_up: list[str] = []
        unchecked: list[str] = []
        for c in commands:
            if c.command_id is not None:
                (unchecked if stream_id(c.target, c.target_ref()) in absent else looked_up).append(
                    c.command_id
                )
        recorded = self.ledger_recorder.select_commands(looked_up) if looked_up else {}
        with collector_paused():
            return self._execute_batch(
                commands, actors, recorded, absent, unchecked, recorded_at, atomic
            )

    def _execute_batch(
        self,
        commands: Sequence[Command],
        actors: list[str],
        recorded: dict[str, RecordedCommand],
        absent: set[UUID],
        unchecked: list[str],
        recorded_at: Sequence[datetime] | None,
        atomic: bool,
    ) -> list[Outcome]:
        batch = Batch(self, actors[0] if actors else "", recorded, absent=absent)
        for index, command in enumerate(commands):
            batch.actor = actors[index]
            # One instant per command: its default occurred_at and its recording time agree.
            with clock.recording_at(recorded_at[index] if recorded_at else clock.now()):
                batch.run(command)
        failures = [(i, o) for i, o in enumerate(batch.outcomes) if isinstance(o, LedgerError)]
        if atomic and failures:
            raise BatchRefused(failures)
        try:
            return batch.commit()
        except IntegrityError:
            reused = self.ledger_recorder.select_commands(unchecked) if unchecked else {}
            if reused:
                return self._execute_batch(
                    commands, actors, {**recorded, **reused}, set(), [], recorded_at, atomic
                )
            if len(commands) == 1:
                return [self._explain_conflict(commands[0])]
            if atomic:
                raise VersionConflict(
                    "another writer changed one of these customers at the same moment; "
                    "nothing was written: send the batch again"
                ) from None
            # Someone wrote concurrently: give each command its own transaction and outcome.
            return [
                outcome
                for index, command in enumerate(commands)
                for outcome in self.execute_many(
                    [command],
                    actor=actors[index],
                    recorded_at=[recorded_at[index]] if recorded_at else None,
                )
            ]

    def replay(self, command: Command, recorded: RecordedCommand) -> Outcome:
        """The first result of a command run again with its command_id."""
        if not self.same_command(command, recorded.fingerprint):
            return CommandIdReused(
                f"command_id {command.command_id!r} was already used for a different "
                "command; use a new command_id for a new command",
                where="command_id",
            )
        return CommandResult.from_dict(recorded.result, position=recorded.position)

    def _explain_conflict(self, command: Command) -> Outcome:
        if command.command_id:
            recorded = self.ledger_recorder.select_commands([command.command_id])
            if command.command_id in recorded:
                return self.replay(command, recorded[command.command_id])
        kind = command.target
        if type(command) in CREATING:
            return DuplicateReference(f"{kind} {command.target_ref()} is already registered")
        return VersionConflict(
            f"{kind} {command.target_ref()} was changed by another writer at the same moment; "
            "reload it and try again"
        )

    # -- reads ---------------------------------------------------------------------------

    def load(
        self, kind: Kind, ref: str, *, version: int | None = None, copy: bool = True
    ) -> LedgerAggregate:
        """The aggregate as stored (at ``version``). ``copy=False``: the cached instance
        itself, to be read and never changed (no deep copy of it)."""
        try:
            aggregate: LedgerAggregate = self.repository.get(
                stream_id(kind, ref),
                version=version,
                projector_func=project,
                deepcopy_from_cache=copy,
            )
        except AggregateNotFoundError:
            raise UnknownReference(f"no {kind} with reference {ref!r}") from None
        assert isinstance(aggregate, KINDS[kind])
        return aggregate

    def customer(self, ref: str) -> Customer:
        return self.load("customer", ref)  # type: ignore[return-value]

    def customer_as_stored(self, ref: str) -> Customer:
        """The customer as the cache holds it: to be read, never changed (no copy made)."""
        return self.load("customer", ref, copy=False)  # type: ignore[return-value]

    def rep_as_stored(self, ref: str) -> Rep:
        return self.load("rep", ref, copy=False)  # type: ignore[return-value]

    def rep(self, ref: str) -> Rep:
        return self.load("rep", ref)  # type: ignore[return-value]

    def campaign(self, ref: str) -> Campaign:
        return self.load("campaign", ref)  # type: ignore[return-value]

    def history(self, kind: Kind, ref: str) -> list[LedgerAggregate.Event]:
        """Every event of one stream, in the order it was recorded."""
        events = list(self.events.get(stream_id(kind, ref)))
        if not events:
            raise UnknownReference(f"no {kind} with reference {ref!r}")
        return events  # type: ignore[return-value]


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector less its check of each event against a runtime protocol
    (``assert isinstance``: 40 µs an event, most of the time of loading a customer)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@dataclass
class _Pending:
    command: Command
    aggregate: LedgerAggregate
    first_event: int
    last_event: int
    entry_id: str | None
    # Events the command wrote to other aggregates (a merge writes to both records): saved
    # with its own, in one transaction; the result speaks of ``aggregate``'s.
    others: tuple[Any, ...] = ()


@dataclass
class Batch:
    """A unit of work: commands applied to aggregates in memory, then saved at once."""

    app: Ledger
    actor: str
    recorded: dict[str, RecordedCommand]
    aggregates: dict[UUID, LedgerAggregate] = field(default_factory=dict)
    outcomes: list[Outcome | _Pending | int] = field(default_factory=list)
    seen_ids: dict[str, tuple[int, str]] = field(default_factory=dict)
    absent: set[UUID] = field(default_factory=set)  # streams known not to exist yet
    # Aggregates the running command has used, with their pending events before it ran: its
    # own events are the ones after.
    touched: dict[UUID, int] = field(default_factory=dict)
    # Aggregates commands only read (the reps they name), loaded once for the whole batch:
    # the store is asked once per rep, not once per command that names them.
    peeked: dict[UUID, LedgerAggregate] = field(default_factory=dict)

    # -- used by handlers ---------------------------------------------------------------

    def get(self, kind: Kind, ref: str) -> LedgerAggregate:
        aggregate_id = stream_id(kind, ref)
        aggregate = self.aggregates.get(aggregate_id)
        if aggregate is None:
            aggregate = self.aggregates[aggregate_id] = self.app.load(kind, ref)
        self.touched.setdefault(aggregate_id, len(aggregate.pending_events))
        return aggregate

    def peek(self, kind: Kind, ref: str) -> LedgerAggregate:
        """An aggregate this command only reads (a rep it names): the batch's own if it has
        changed it, else the cached one, not copied."""
        aggregate_id = stream_id(kind, ref)
        found = self.aggregates.get(aggregate_id) or self.peeked.get(aggregate_id)
        if found is None:
            found = self.peeked[aggregate_id] = self.app.load(kind, ref, copy=False)
        return found

    def exists(self, kind: Kind, ref: str) -> bool:
        aggregate_id = stream_id(kind, ref)
        if aggregate_id in self.absent and aggregate_id not in self.aggregates:
            return False
        try:
            self.get(kind, ref)
        except UnknownReference:
            return False
        return True

    def target(self, command: Command) -> LedgerAggregate:
        aggregate = self.get(command.target, command.target_ref())
        if command.expected_version is not None and command.expected_version != aggregate.version:
            raise VersionConflict(
                f"{command.target} {command.target_ref()} is at version {aggregate.version}, "
                f"not the expected {command.expected_version}; reload it and try again",
                where="expected_version",
            )
        return aggregate

    def create(self, aggregate: LedgerAggregate) -> LedgerAggregate:
        self.aggregates[aggregate.id] = aggregate
        self.touched.setdefault(aggregate.id, 0)
        return aggregate

    def check_new(self, command: Command) -> None:
        if command.expected_version not in (None, 0):
            raise VersionConflict(
                f"{command.target} {command.target_ref()} does not exist yet; "
                "expected_version can only be 0",
                where="expected_version",
            )
        if self.exists(command.target, command.target_ref()):
            raise DuplicateReference(
                f"{command.target} {command.target_ref()} is already registered; choose "
                "another reference",
                where="ref",
            )

    # -- running and committing --------------------------------------------------------------

    def run(self, command: Command) -> None:
        if command.command_id is not None and self._is_repeat(command):
            return
        self.touched.clear()
        try:
            aggregate, entry_id = HANDLERS[type(command)](command, self)
            first = self.touched.get(aggregate.id, 0)
            others = tuple(
                event
                for other_id, start in self.touched.items()
                if other_id != aggregate.id
                for event in self.aggregates[other_id].pending_events[start:]
            )
            self.outcomes.append(
                _Pending(command, aggregate, first, len(aggregate.pending_events), entry_id, others)
            )
        except LedgerError as error:
            self.outcomes.append(error)

    def _is_repeat(self, command: Command) -> bool:
        assert command.command_id is not None
        if command.command_id in self.seen_ids:
            index, fingerprint = self.seen_ids[command.command_id]
            if fingerprint != self.app.fingerprint(command):
                self.outcomes.append(
                    CommandIdReused(
                        f"command_id {command.command_id!r} is used twice in this batch for "
                        "different commands",
                        where="command_id",
                    )
                )
            else:
                self.outcomes.append(index)
            return True
        self.seen_ids[command.command_id] = (len(self.outcomes), self.app.fingerprint(command))
        if command.command_id in self.recorded:
            self.outcomes.append(self.app.replay(command, self.recorded[command.command_id]))
            return True
        return False

    def commit(self) -> list[Outcome]:
        pending = [o for o in self.outcomes if isinstance(o, _Pending)]
        written = {id(p): p.aggregate.pending_events[p.first_event : p.last_event] for p in pending}
        results = {id(p): self._result(p, written[id(p)]) for p in pending}
        rows = [
            CommandRow(
                p.command.command_id,
                self.seen_ids[p.command.command_id][1],
                p.aggregate.id,
                results[id(p)].version,
                results[id(p)].stored(),
            )
            for p in pending
            if p.command.command_id is not None
        ]
        changed = [a for a in self.aggregates.values() if a.pending_events]
        if changed:
            # The log follows the order of the commands, not of the aggregates: handing the
            # events over first, and the emptied aggregates after (for snapshots), does that.
            in_order = [e for p in pending for e in (*written[id(p)], *p.others)]
            for aggregate in changed:
                aggregate.collect_events()
            mapper = self.app.mapper
            assert isinstance(mapper, ChainedMapper)
            mapper.prepare_keys(in_order)
            # What ``Application.save`` does, less its check of each object against a runtime
            # protocol (about 15 µs an event: a tenth of a bulk import).
            processing: ProcessingEvent[UUID] = ProcessingEvent()
            processing.events.extend(in_order)
            processing.aggregates.update((a.id, a) for a in changed)
            processing.saved_kwargs["commands"] = rows
            # An erasure destroys the customer's key in the transaction that records it.
            erased = [e.originator_id for e in in_order if type(e) is ERASED]
            processing.saved_kwargs["destroy_keys"] = erased
            recordings = library.record(self.app, processing)
            for stream in erased:
                mapper.forget_key(stream)
            library.take_snapshots(self.app, processing)
            self.app.recorded(recordings)
            positions = {id(r.domain_event): r.notification.id for r in recordings}
            for p in pending:
                result = results[id(p)]
                result.events = tuple(
                    WrittenEvent(w.version, w.type, positions.get(id(e)))
                    for w, e in zip(result.events, written[id(p)], strict=True)
                )
        finished: list[Outcome] = []
        for outcome in self.outcomes:
            if isinstance(outcome, _Pending):
                finished.append(results[id(outcome)])
            elif isinstance(outcome, int):
                first = finished[outcome]
                finished.append(first if isinstance(first, LedgerError) else as_duplicate(first))
            else:
                finished.append(outcome)
        return finished

    @staticmethod
    def _result(pending: _Pending, events: list[Any]) -> CommandResult:
        command = pending.command
        return CommandResult(
            command=command.type,  # type: ignore[attr-defined]
            target=command.target,
            ref=command.target_ref(),
            id=pending.aggregate.id,
            version=events[-1].originator_version if events else pending.aggregate.version,
            events=tuple(WrittenEvent(e.originator_version, type(e).__name__) for e in events),
            entry_id=pending.entry_id,
            command_id=command.command_id,
        )
