"""Catch-up of all views together, beside simply reading and decoding the same events.

    python -m bench.catch_up [--store sqlite|postgres] [--customers 3000]

Builds the demo world in a throwaway store, then in the same run measures (1) reading
every event of the log in pages and decoding it into domain events, and (2) building
every view from scratch over the same log. Target: (2) at no less than a third of (1).
"""

from __future__ import annotations

import argparse
import time

from bench.common import drop, store_arguments, throwaway_settings
from ledger.application import Ledger
from ledger.demo import build_world
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner


def read_and_decode(app: Ledger, page: int) -> int:
    position, count = 0, 0
    while True:
        notifications = app.recorder.select_notifications(start=position, limit=page,
                                                          inclusive_of_start=False)
        if not notifications:
            return count
        for notification in notifications:
            app.mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    store_arguments(parser)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    settings = throwaway_settings(args)
    try:
        app = Ledger(settings)
        started = time.perf_counter()
        summary = build_world(app, customers=args.customers)
        print(f"store: {settings.describe()}; demo world of {summary.events:,} events built in "
              f"{time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        count = read_and_decode(app, args.batch_size)
        raw = count / (time.perf_counter() - started)
        runner = Runner(app, all_views(), batch_size=args.batch_size)
        started = time.perf_counter()
        processed = runner.catch_up()
        views = processed / (time.perf_counter() - started)
        names = ", ".join(view.name for view in runner.views)
        print(f"raw read + decode                {raw:10,.0f} events/s")
        print(f"catch-up of all views ({names})")
        print(f"                                 {views:10,.0f} events/s   "
              f"ratio {views / raw:.2f} (target >= 0.33)")
        app.close()
    finally:
        drop(settings)


if __name__ == "__main__":
    main()
