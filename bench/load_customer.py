"""Loading a customer with 10,000 events against one with 10, and against the raw read.

    python -m bench.load_customer [--store sqlite|postgres] [--events 10000]

Each load is cold: a new Ledger without its aggregate cache, so the figure is what a
fresh process (or a cache miss) pays. The raw baseline reads the same stored rows and
decodes their JSON, without building the aggregate.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone
from statistics import median

from bench.common import drop, ms, store_arguments, throwaway_settings, timings
from ledger.application import Ledger
from ledger.chain import split
from ledger.commands import parse_command
from ledger.ids import stream_id

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def build(app: Ledger, ref: str, events: int) -> None:
    app.execute(
        parse_command(
            {"type": "register_customer", "ref": ref, "name": "王伟", "occurred_at": T0.isoformat()}
        ),
        actor="bench",
    )
    commands = [
        parse_command(
            {
                "type": "log_contact",
                "customer": ref,
                "rep": "REP-1",
                "channel": "phone",
                "direction": "out",
                "subject": f"call {n}",
                "summary": "讨论了新的报价和交货时间",
                "occurred_at": (T0 + timedelta(minutes=n)).isoformat(),
            }
        )
        for n in range(events - 1)
    ]
    for start in range(0, len(commands), 1000):
        app.execute_many(commands[start : start + 1000], actor="bench")


def payload(state: bytes) -> bytes:
    """The event's JSON, without the hash chain the ledger appends."""
    parts = split(state)
    return state if parts is None else parts[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    settings = throwaway_settings(args)
    try:
        app = Ledger(settings)
        app.execute(
            parse_command(
                {
                    "type": "hire_rep",
                    "ref": "REP-1",
                    "name": "李娜",
                    "team": "east",
                    "occurred_at": T0.isoformat(),
                }
            ),
            actor="bench",
        )
        worst = args.events + settings.snapshot_interval - 1  # the most events past a snapshot
        build(app, "SMALL", 10)
        build(app, "BIG", args.events)
        build(app, "WORST", worst)
        cold = Ledger(settings.model_copy(update={"cache_size": 0}))

        small = timings(lambda: cold.customer("SMALL"), args.repeat)
        big = timings(lambda: cold.customer("BIG"), args.repeat)
        behind = timings(lambda: cold.customer("WORST"), args.repeat)
        big_id = stream_id("customer", "BIG")
        raw = timings(
            lambda: [json.loads(payload(e.state)) for e in cold.recorder.select_events(big_id)],
            max(3, args.repeat // 4),
        )
        print(f"store: {settings.describe()}, snapshot every {settings.snapshot_interval} events")
        print(f"load customer with 10 events            {ms(small)}")
        print(
            f"load customer with {args.events:,} events       {ms(big)}   "
            f"ratio to 10 events: {median(big) / median(small):.1f}x"
        )
        print(
            f"load customer with {worst:,} events       {ms(behind)}   "
            f"ratio to 10 events: {median(behind) / median(small):.1f}x  (worst case: "
            f"{settings.snapshot_interval - 1} events after the last snapshot)"
        )
        print(f"raw: read + decode all {args.events:,} rows   {ms(raw)}   (no snapshot)")
        cold.close()
        app.close()
    finally:
        drop(settings)


if __name__ == "__main__":
    main()
