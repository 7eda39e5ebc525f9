"""Deadlines keep themselves: jobs that record what time alone makes true.

- promises past their due date with no outcome are marked overdue;
- quotes past their validity with no answer expire;
- requests and complaints past their respond-by time are flagged, once per deadline;
- customers with no purchase and no contact for ``lapse_days`` are marked lapsed (a purchase
  ends it; the retention report counts it);
- overdue work whose responsible rep has departed, and that nobody took over, is raised to
  that rep's manager (their responsibility from then on), once.

Each job reads the views for candidates and writes through the normal command path as actor
``scheduler``, with a command id that names the fact: running a job twice, or two schedulers
racing, records each fact once (the command log answers the second with the first's result,
and the aggregate refuses what its own state rules out). A job computes everything due as of
its instant, so after downtime one run catches up, however many runs were missed. Time is
passed in (``now``): nothing here reads the clock.

Only one scheduler acts at a time across processes and machines sharing a store: the holder
of a PostgreSQL advisory lock, or of an exclusive lock on a file beside the SQLite database.
The lock goes with the process (or its connection), so a waiting scheduler takes over when
the holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import IO, Any

import psycopg
from eventsourcing.persistence import OperationalError as PersistenceOperationalError

from ledger.application import Ledger
from ledger.clock import shifted
from ledger.commands.models import Command, parse_command
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.projections.dossier import orphaned_rows
from ledger.projections.registry import views_named
from ledger.projections.runner import Runner
from ledger.sql import iso

ACTOR = "scheduler"
JOB_NAMES = (
    "overdue_promises",
    "expired_quotes",
    "missed_deadlines",
    "lapsed_customers",
    "orphaned_work",
)
READS = ["promises", "quotes", "service", "dossier", "activity"]
RETRY_SECONDS = 5.0  # after the store failed under a running scheduler
# customer, entry id, the key naming the fact, the command
Candidate = tuple[str, str | None, str, dict[str, Any]]


@dataclass
class Fact:
    """What a job did about one candidate: written, already recorded, or skipped (why)."""

    job: str
    customer: str
    entry: str | None
    outcome: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Jobs:
    """The jobs over one ledger; ``run(now)`` runs them as of ``now``."""

    def __init__(self, ledger: Ledger, *, lapse_days: int = 180) -> None:
        self.ledger = ledger
        self.lapse_days = lapse_days
        self.runner = Runner(ledger, views_named(READS))
        self.tables: dict[str, str] = {}
        for view in self.runner.views:
            self.tables.update(view.table_names())

    def close(self) -> None:
        self.runner.close()

    def run(self, now: datetime, names: tuple[str, ...] = JOB_NAMES) -> list[Fact]:
        """Catch the views up, then run each job as of ``now``."""
        self.runner.catch_up()
        facts: list[Fact] = []
        for name in names:
            facts += getattr(self, name)(now)
        return facts

    # -- the jobs ---------------------------------------------------------------------------

    def overdue_promises(self, now: datetime) -> list[Fact]:
        rows = self.rows(
            "SELECT customer, promise_id FROM {promises} WHERE status = 'open' "
            "AND retracted = ? AND due_by < ?",
            (False, iso(now)),
        )
        return self.execute(
            "overdue_promises",
            now,
            [
                (
                    row["customer"],
                    row["promise_id"],
                    f"overdue:{row['customer']}:{row['promise_id']}",
                    {
                        "type": "mark_promise_overdue",
                        "customer": row["customer"],
                        "promise_id": row["promise_id"],
                    },
                )
                for row in rows
            ],
        )

    def expired_quotes(self, now: datetime) -> list[Fact]:
        rows = self.rows(
            "SELECT customer, quote_id FROM {quotes} WHERE status = 'open' "
            "AND retracted = ? AND valid_until < ?",
            (False, iso(now)),
        )
        return self.execute(
            "expired_quotes",
            now,
            [
                (
                    row["customer"],
                    row["quote_id"],
                    f"expired:{row['customer']}:{row['quote_id']}",
                    {
                        "type": "expire_quote",
                        "customer": row["customer"],
                        "quote_id": row["quote_id"],
                    },
                )
                for row in rows
            ],
        )

    def missed_deadlines(self, now: datetime) -> list[Fact]:
        rows = [
            *self.rows(
                "SELECT customer, request_id AS entry, respond_by FROM {requests} "
                "WHERE status = 'open' AND retracted = ? AND respond_by < ?",
                (False, iso(now)),
            ),
            *self.rows(
                "SELECT customer, complaint_id AS entry, respond_by FROM {complaints} "
                "WHERE status = 'open' AND retracted = ? AND respond_by < ?",
                (False, iso(now)),
            ),
        ]
        return self.execute(
            "missed_deadlines",
            now,
            [
                (
                    row["customer"],
                    row["entry"],
                    f"missed:{row['customer']}:{row['entry']}:{row['respond_by']}",
                    {
                        "type": "flag_missed_deadline",
                        "customer": row["customer"],
                        "entry_id": row["entry"],
                        "deadline": row["respond_by"],
                    },
                )
                for row in rows
            ],
        )

    def lapsed_customers(self, now: datetime) -> list[Fact]:
        """Customers whose last purchase or contact (or, without one, their registration) is
        ``lapse_days`` old, who have not churned and have not lapsed since then."""
        cutoff = iso(shifted(now, -self.lapse_days))
        with self.runner.db.transaction(self.tables, commit=False) as tx:  # one snapshot
            customers = tx.rows(
                "SELECT ref, registered_at FROM {customers} WHERE "
                "churned_at IS NULL AND erased = ? AND merged_into IS NULL",
                (False,),
            )
            until = iso(now)
            active = {
                row["customer"]: row["at"]
                for row in tx.rows(
                    "SELECT customer, MAX(occurred_at) AS at FROM"
                    " (SELECT customer, occurred_at FROM {purchases} WHERE retracted = ?"
                    " UNION ALL SELECT customer, occurred_at FROM {contacts} WHERE retracted = ?)"
                    " activity WHERE occurred_at <= ? GROUP BY customer",
                    (False, False, until),
                )
            }
            lapsed = {
                row["customer"]: row["at"]
                for row in tx.rows(
                    "SELECT customer, MAX(occurred_at) AS at FROM {standing} WHERE kind = 'lapsed' "
                    "AND occurred_at <= ? GROUP BY customer",
                    (until,),
                )
            }
            bought = {
                row["customer"]: row["at"]
                for row in tx.rows(
                    "SELECT customer, MAX(occurred_at) AS at FROM {purchases} WHERE retracted = ? "
                    "AND occurred_at <= ? GROUP BY customer",
                    (False, until),
                )
            }
        candidates: list[Candidate] = []
        for row in customers:
            ref, last = row["ref"], active.get(row["ref"]) or row["registered_at"]
            if last >= cutoff:
                continue
            if ref in lapsed and lapsed[ref] >= (bought.get(ref) or ""):
                continue  # lapsed already, and has not bought since
            candidates.append(
                (
                    ref,
                    None,
                    f"lapsed:{ref}:{last}",
                    {"type": "mark_lapsed", "customer": ref, "days": self.lapse_days},
                )
            )
        return self.execute("lapsed_customers", now, candidates)

    def orphaned_work(self, now: datetime) -> list[Fact]:
        """Overdue promises, requests and complaints whose responsible rep has departed, raised
        to the rep's manager (a quote past its validity expires instead)."""
        with self.runner.db.transaction(self.tables, commit=False) as tx:
            rows = orphaned_rows(tx, iso(now) or "", "WHERE item <> 'quote'")
        return self.execute(
            "orphaned_work",
            now,
            [
                (
                    row["customer"],
                    row["id"],
                    f"orphaned:{row['customer']}:{row['id']}:{row['responsible']}",
                    {
                        "type": "move_responsibility",
                        "customer": row["customer"],
                        "to_rep": row["manager"],
                        "from_rep": row["responsible"],
                        "entry_ids": [row["id"]],
                        "reason": f"overdue, and {row['responsible']} departed on "
                        f"{row['departed_at'][:10]}: raised to their manager",
                    },
                )
                for row in rows
                if row["overdue"] and row["manager"]
            ],
        )

    # -- shared -------------------------------------------------------------------------------

    def rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.runner.db.transaction(self.tables, commit=False) as tx:
            return tx.rows(statement, params)

    def execute(self, job: str, now: datetime, candidates: list[Candidate]) -> list[Fact]:
        """One transaction for a job's commands; each fact's command id names it."""
        if not candidates:
            return []
        commands: list[Command] = [
            parse_command(
                {**data, "occurred_at": now.isoformat(), "command_id": "scheduler:" + digest(key)}
            )
            for _, _, key, data in candidates
        ]
        for attempt in range(3):
            try:
                outcomes = self.ledger.execute_many(commands, actor=ACTOR)
                break
            except PersistenceOperationalError:
                # Another scheduler wrote the same facts at the same instant (two without
                # the leadership, briefly, after a failover): run again, and the command
                # log answers with what the other wrote.
                if attempt == 2:
                    raise
        facts = []
        for (customer, entry, _, _), outcome in zip(candidates, outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                facts.append(Fact(job, customer, entry, "skipped", outcome.message))
            else:
                facts.append(
                    Fact(job, customer, entry, "already" if outcome.duplicate else "written")
                )
        return facts


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Leadership:
    """The right to act, held by one scheduler of a store at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.held: IO[str] | psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        if self.held is not None:
            return True
        if self.settings.database_url:
            conn = psycopg.connect(self.settings.database_url, autocommit=True)
            key = int.from_bytes(
                hashlib.sha256(
                    f"ledger-scheduler:{self.settings.database_schema}".encode()
                ).digest()[:8],
                "big",
                signed=True,
            )
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row is None or not row[0]:
                conn.close()
                return False
            self.held = conn
            return True
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.settings.data_dir / "scheduler.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.held = handle
        return True

    def acquire(
        self, stop: threading.Event, *, poll: float = 1.0, waiting: Callable[[], None] | None = None
    ) -> bool:
        """Wait for the right to act; False if ``stop`` is set first."""
        told = False
        while not stop.is_set():
            if self.try_acquire():
                return True
            if waiting is not None and not told:
                waiting()
                told = True
            stop.wait(poll)
        return False

    def release(self) -> None:
        if self.held is not None:
            self.held.close()  # closing the file or the connection releases the lock
            self.held = None


class SchedulerService:
    """The jobs on an interval, run by APScheduler once this process holds the leadership.

    Runs coalesce and do not overlap: after downtime (or a long run) one run catches up.
    ``start`` returns at once; the work happens on background threads until ``stop``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        intervals: dict[str, float] | None = None,
        lapse_days: int = 180,
        report: Callable[[str], None] = print,
    ) -> None:
        """``intervals``: seconds between runs, per job (default 300 each)."""
        self.settings = settings
        self.intervals = {name: 300.0 for name in JOB_NAMES} | (intervals or {})
        self.lapse_days = lapse_days
        self.report = report
        self.leadership = Leadership(settings)
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.lead, name="scheduler", daemon=True)
        self.scheduler: Any = None

    def start(self) -> None:
        self.thread.start()

    def lead(self) -> None:
        """Serve until stopped; if the store fails under it (an outage), let go of the lock,
        say so, and try again."""
        while not self.halt.is_set():
            try:
                self.serve()
                return
            except Exception as error:
                self.report(
                    f"scheduler: {type(error).__name__}: {error}; trying again in "
                    f"{RETRY_SECONDS:g} s"
                )
                if self.scheduler is not None and self.scheduler.running:
                    self.scheduler.shutdown(wait=False)
                self.leadership.release()
                self.halt.wait(RETRY_SECONDS)

    def serve(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        if not self.leadership.acquire(
            self.halt,
            waiting=lambda: self.report("another scheduler holds the lock; waiting to take over"),
        ):
            return
        ledger = Ledger(self.settings)
        jobs = Jobs(ledger, lapse_days=self.lapse_days)
        self.report(
            "scheduler: holding the lock; every "
            + ", ".join(f"{name} {seconds:g} s" for name, seconds in self.intervals.items())
        )

        def tick(name: str) -> None:
            try:
                facts = jobs.run(datetime.now(timezone.utc), (name,))
            except Exception as error:  # the database, most likely: the next run retries
                self.report(
                    f"scheduler: {name} failed ({type(error).__name__}: {error}); "
                    "its next run will catch up"
                )
                return
            written = [f for f in facts if f.outcome == "written"]
            if written:
                self.report(
                    f"scheduler: {name} wrote {len(written)}: "
                    + ", ".join(f"{f.customer} {f.entry or ''}".strip() for f in written[:10])
                )

        # One worker: the jobs share a runner and take turns; runs of a job coalesce.
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for name, seconds in self.intervals.items():
            self.scheduler.add_job(
                tick,
                "interval",
                args=(name,),
                seconds=seconds,
                next_run_time=datetime.now(timezone.utc),
                id=name,
            )
        self.scheduler.start()
        self.halt.wait()
        self.scheduler.shutdown(wait=True)
        jobs.close()
        ledger.close()
        self.leadership.release()

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(timeout=60)
