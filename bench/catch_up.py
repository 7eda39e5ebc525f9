"""Catch-up of all views together, beside simply reading and decoding the same events.

    python -m bench.catch_up [--store sqlite|postgres] [--customers 3000]

Builds the demo world in a throwaway store, lets the store settle (SQLite: the write-ahead
log checkpointed; PostgreSQL: the events table vacuumed, so that no measurement pays for
setting hint bits), then in the same run measures, in turn and the best of three rounds each,
(1) reading every event of the log in pages and decoding it into domain events, and
(2) building every view from scratch over the same log. Target: (2) at no less than a third
of (1).
"""

from __future__ import annotations

import argparse
import gc
import time

from bench.common import drop, read_log, settle, store_arguments, throwaway_settings
from ledger.application import Ledger
from ledger.demo import build_world
from ledger.projections.registry import all_views
from ledger.projections.runner import BATCH_SIZE, Runner


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure both this many times, alternately; the best of each "
        "counts (this machine's speed varies by a fifth from run to run)",
    )
    args = parser.parse_args()
    settings = throwaway_settings(args)
    try:
        builder = Ledger(settings)
        started = time.perf_counter()
        summary = build_world(builder, customers=args.customers)
        print(
            f"store: {settings.describe()}; demo world of {summary.events:,} events built in "
            f"{time.perf_counter() - started:.0f} s"
        )
        builder.close()
        del builder
        gc.collect()  # measure as a fresh process would: without the builder's heap
        app = Ledger(settings)
        settle(app)
        read_log(app, page=args.batch_size)  # warm: the first read fills the mapper's caches
        raw, views = 0.0, 0.0
        for round_ in range(1, args.rounds + 1):
            started = time.perf_counter()
            count = read_log(app, page=args.batch_size)
            raw_now = count / (time.perf_counter() - started)
            runner = Runner(app, all_views(), batch_size=args.batch_size)
            started = time.perf_counter()
            processed = runner.catch_up()
            views_now = processed / (time.perf_counter() - started)
            print(
                f"  round {round_}: raw {raw_now:,.0f} events/s, views {views_now:,.0f} "
                f"events/s, ratio {views_now / raw_now:.2f}",
                flush=True,
            )
            raw, views = max(raw, raw_now), max(views, views_now)
            for view in runner.views:  # the next round builds them from scratch again
                runner.drop(view, "")
            runner.close()
        names = ", ".join(view.name for view in all_views())
        print(f"raw read + decode                {raw:10,.0f} events/s")
        print(f"catch-up of all views ({names})")
        print(
            f"                                 {views:10,.0f} events/s   "
            f"ratio {views / raw:.2f} (target >= 0.33)"
        )
        app.close()
    finally:
        drop(settings)


if __name__ == "__main__":
    main()
