"""Replays of a quarter of the demo world, beside reading and decoding the same events.

    python -m bench.replay [--store sqlite|postgres] [--customers 3000]

Builds the demo world in a throwaway store, takes T = the time the first quarter of its log
had been recorded, and in the same run measures, best of two each:

  as known at T     a replay of the analysts' view (activity) over what was recorded by T:
                    it reads the log only as far as T (plus the margin ``replay.core``
                    explains), about a quarter of it;
  as occurred by T  the same over what had happened by T, whenever recorded: it must read
                    the whole log to find the late entries;

each beside reading and decoding the same stretch of the log. Rates are events read per
second. Target (issue 8): a replay at no less than half the raw rate.
"""

from __future__ import annotations

import time

from bench.common import demo_world, read_log
from ledger.application import Ledger
from ledger.projections.activity import Activity
from replay.core import Reading, Replay, recorded_at


def read_until(app: Ledger, end: int) -> float:
    """Events per second of reading and decoding positions 1..end."""
    started = time.perf_counter()
    count = read_log(app, end=end)
    return count / (time.perf_counter() - started)


def replayed(app: Ledger, reading: Reading) -> tuple[int, float]:
    """(the last position read, events read per second) of a replay of the activity view."""
    with Replay(app, [Activity()], reading) as replay:
        started = time.perf_counter()
        read = replay.run()
        return replay.head, read / (time.perf_counter() - started)


def main() -> None:
    with demo_world(__doc__) as (app, settings, summary):
        read_log(app)  # warm: the first read fills the mapper's caches
        head = app.recorder.max_notification_id() or 0
        quarter = app.recorder.select_notifications(start=head // 4, limit=1)[0]
        then = recorded_at(app, quarter)
        print(
            f"store: {settings.describe()}; demo world of {summary.events:,} events; "
            f"T = {then:%Y-%m-%d %H:%M} UTC, when {quarter.id:,} events had been recorded"
        )
        for name, reading in (
            ("as known at T", Reading(as_known_at=then)),
            ("as occurred by T", Reading(as_occurred_by=then)),
        ):
            rates = [replayed(app, reading) for _ in range(2)]
            end = rates[0][0]
            rate = max(r for _, r in rates)
            raw = max(read_until(app, end) for _ in range(2))
            print(
                f"{name:17} reads {end:9,} events  raw read + decode {raw:9,.0f} events/s  "
                f"replay {rate:9,.0f} events/s  ratio {rate / raw:.2f} (target >= 0.5)"
            )


if __name__ == "__main__":
    main()
