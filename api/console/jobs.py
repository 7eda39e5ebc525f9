"""What the console computes apart from a request: report jobs (a replay reads the log up to
then, which takes as long as the log is long), and slow answers kept and refreshed in the
background. Both live on the app (``app.state``): two apps in one process (tests serve
several stores) never share, or see, each other's; a job is keyed by its store, the role that
asked (analysts see pseudonyms, compliance does not) and what was asked."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.deps import Services
from api.problems import ViewBehind
from ledger.config import Settings
from ledger.errors import LedgerError
from replay.catalogue import Report
from replay.documents import Difference

log = logging.getLogger("ledger.console")
KEPT = 15 * 60  # seconds a replay's result is kept
KEPT_LIVE = 30  # and a report as known now (the views move on)
MOST_JOBS = 16

Progress = Callable[[int | None], Callable[[int], None]]
JobKey = tuple[str, str, tuple[tuple[str, str], ...]]  # store, role, the form as asked


@dataclass
class Job:
    """A report running on its own thread; the page shows how far it has read (a replay) until
    it is done, then its result, kept ``kept`` seconds for the CSV and reloads."""

    kept: float
    started: float = field(default_factory=time.monotonic)
    read: int = 0
    total: int | None = None
    result: Report | Difference | None = None
    error: LedgerError | None = None

    def progress(self, total: int | None) -> Callable[[int], None]:
        self.total = (self.total or 0) + (total or 0)

        def advance(events: int) -> None:
            self.read += events

        return advance

    @property
    def share(self) -> float | None:
        return min(1.0, self.read / self.total) if self.total else None


def store_of(settings: Settings) -> str:
    """Which store: the PostgreSQL database and schema, or the SQLite file."""
    if settings.database_url:
        return f"{settings.describe()} schema {settings.database_schema or 'public'}"
    return f"SQLite {settings.sqlite_path.resolve()}"


class ReportJobs:
    """The report jobs of one app: running, or done and kept a while."""

    def __init__(self, most: int = MOST_JOBS) -> None:
        self.most = most
        self.jobs: dict[JobKey, Job] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(settings: Settings, role: str, form: dict[str, str]) -> JobKey:
        return store_of(settings), role, tuple(sorted(form.items()))

    def result(self, ident: JobKey) -> Report | Difference | None:
        """The result of the job, if it has one."""
        with self.lock:
            job = self.jobs.get(ident)
        return None if job is None else job.result

    def start(
        self, ident: JobKey, compute: Callable[[Progress], Report | Difference], *, live: bool
    ) -> Job:
        """The job for ``ident``: running, done, or started now on a thread of its own
        (``live``: as known now, kept briefly)."""
        with self.lock:
            for old, job in list(self.jobs.items()):
                if time.monotonic() - job.started > job.kept:
                    del self.jobs[old]
            if ident in self.jobs:
                return self.jobs[ident]
            if len(self.jobs) >= self.most:
                raise ViewBehind(
                    f"{self.most} replays are running or kept; try again in a few minutes",
                    where="run",
                )
            job = self.jobs[ident] = Job(kept=KEPT_LIVE if live else KEPT)

        def work() -> None:
            try:
                job.result = compute(job.progress)
            except LedgerError as error:
                job.error = error
            except Exception:
                log.exception("a report for the console failed")
                job.error = LedgerError(
                    "the report failed on the server; the error is in the server log", where="run"
                )

        threading.Thread(target=work, name="console-replay", daemon=True).start()
        return job


class Refreshed:
    """A slow query's answer, kept and recomputed in the background once it is older than
    ``every`` seconds: a page shows the answer kept (saying when it was computed) and never
    waits for it, but the first time, on a worker thread. The first page of violations, at a
    million events, takes over a second to compute (every touch, sale and complaint is
    joined)."""

    def __init__(self, compute: Callable[[Services], Any], every: float) -> None:
        self.compute, self.every = compute, every
        self.value: Any = None
        self.at: datetime | None = None
        self.running = threading.Lock()

    async def get(self, svc: Services) -> Any:
        if self.at is None:
            await run_in_threadpool(self.first, svc)
        elif (now() - self.at).total_seconds() > self.every:
            self.start(svc)
        return self.value

    def first(self, svc: Services) -> None:
        """Compute it, unless another thread is (then wait for that one)."""
        with self.running:
            if self.at is None:
                self.refresh(svc)

    def warm(self, svc: Services) -> None:
        """Compute it now in the background, if it never was."""
        if self.at is None:
            self.start(svc)

    def start(self, svc: Services) -> None:
        if not self.running.acquire(blocking=False):
            return  # already running

        def again() -> None:
            try:
                self.refresh(svc)
            finally:
                self.running.release()

        threading.Thread(target=again, name="console-refresh", daemon=True).start()

    def refresh(self, svc: Services) -> None:
        started = now()
        self.value = self.compute(svc)
        self.at = started


def now() -> datetime:
    return datetime.now(timezone.utc)
