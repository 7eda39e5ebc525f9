"""Bulk import of a purchase history, beside a raw PostgreSQL COPY of the same rows.

    python -m bench.import_purchases [--store sqlite|postgres] [--rows 50000] [--customers 5000]

Writes a CSV of generated purchases, then in the same run (1) imports the file with
`ledger import-purchases`' code path into a fresh ledger: every row validated, every unknown
customer registered, each command recorded with its id so that a re-run writes nothing;
(2) COPYs the rows that import stored (its events and its command records, read back) into
a fresh ledger's tables on PostgreSQL, in one transaction: the raw baseline, the database's
own cost of taking those rows, with no validation and no encoding. Target: (1) at no less
than a quarter of (2), both in purchases (file rows) per second. For reference it also COPYs
the file's rows into a plain five-column table, which is a tenth of the work per row.

Both are run ``--runs`` times (each import into a fresh store, followed by the COPY of what it
stored) and the best of each is compared, so that a moment of noise on this shared machine
favours neither; every run's figure is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from bench.common import drop, store_arguments, throwaway_settings
from ledger.application import Ledger
from ledger.config import Settings
from ledger.purchases import PurchaseColumns, import_purchases
from ledger.sql import Database
from ledger.store import COMMANDS_TABLE

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


# The columns of the file ``write_file`` writes, as an analyst would name them.
COLUMNS = PurchaseColumns(
    customer="customer",
    date="date",
    amount="amount",
    order="order_id",
    quantity="quantity",
    currency="EUR",
)


def write_file(path: Path, rows: int, customers: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "customer", "date", "amount", "quantity"])
        for n in range(rows):
            day = START + timedelta(days=rng.randrange(730))
            writer.writerow(
                [
                    f"SO-{n:08d}",
                    f"CUST-{rng.randrange(customers):06d}",
                    f"{day:%Y-%m-%d}",
                    f"{rng.uniform(5, 500):.2f}",
                    rng.randint(1, 5),
                ]
            )


def raw_copy(url: str, path: Path) -> float:
    """Rows per second of COPY FROM STDIN into a plain table, in one transaction."""
    table = f"bench_copy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url) as conn:
        conn.execute(
            f"CREATE TABLE {table} (order_id text PRIMARY KEY, customer text NOT NULL,"
            " day date NOT NULL, amount numeric NOT NULL, quantity integer NOT NULL)"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as data,
        ):
            while chunk := data.read(1 << 16):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
        count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.execute(f"DROP TABLE {table}")
        conn.commit()
    assert count is not None
    return int(count[0]) / elapsed


def raw_copy_stored(url: str, app: Ledger, rows: int) -> float:
    """Purchases per second of COPYing the events and command records ``app`` stored into
    an empty ledger's tables (same columns, keys and indexes), in one transaction."""
    events = [
        (n.originator_id, n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(start=None, limit=10**9)
    ]
    with Database.of(app).transaction({"commands": COMMANDS_TABLE}, commit=False) as tx:
        commands = [
            (
                r["command_id"],
                r["fingerprint"],
                uuid.UUID(str(r["originator_id"])),
                r["originator_version"],
                r["result"] if isinstance(r["result"], str) else json.dumps(r["result"]),
            )
            for r in tx.rows("SELECT * FROM {commands}")
        ]
    target = Settings(database_url=url, database_schema=f"bench_{uuid.uuid4().hex[:10]}")
    try:
        Ledger(target).close()  # creates the tables
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            started = time.perf_counter()
            schema = target.database_schema
            with cur.copy(
                f'COPY "{schema}".ledger_events (originator_id, originator_version, '
                "topic, state) FROM STDIN"
            ) as copy:
                for event in events:
                    copy.write_row(event)
            with cur.copy(f'COPY "{schema}".{COMMANDS_TABLE} FROM STDIN') as copy:
                for command in commands:
                    copy.write_row(command)
            conn.commit()
            return rows / (time.perf_counter() - started)
    finally:
        drop(target)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="import processes (default 2)")
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="imports (each into a fresh store, each followed by its COPY); "
        "the best of each is compared (default 3)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-purchases-"))
    path = folder / "purchases.csv"
    write_file(path, args.rows, args.customers)
    columns = COLUMNS
    plain = max(raw_copy(args.database_url, path) for _ in range(2))
    rates, raws = [], []
    for run in range(args.runs):
        settings = throwaway_settings(args)
        try:
            started = time.perf_counter()
            report = import_purchases(
                settings, path, columns, workers=args.workers, batch_size=args.batch_size
            )
            rates.append(report.lines / (time.perf_counter() - started))
            assert not report.errors, report.errors[:3]
            app = Ledger(settings)
            raws.append(raw_copy_stored(args.database_url, app, report.lines))
            app.close()
        finally:
            drop(settings)
        if run == 0:
            print(
                f"store: {settings.describe()}; {args.rows:,} purchases of "
                f"{args.customers:,} customers ({report.events:,} events with the "
                f"registrations); best of {args.runs} runs of each"
            )
    raw, rate = max(raws), max(rates)
    each = ", ".join(f"{r:,.0f}" for r in raws)
    print(f"raw PostgreSQL COPY of the rows the import stored     {raw:10,.0f} rows/s  ({each})")
    print(f"  (for reference: COPY of the file's rows, plain table {plain:10,.0f} rows/s)")
    label = f"ledger import-purchases, {args.workers} processes"
    each = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"{label:<54}{rate:10,.0f} rows/s  ({each})")
    print(f"{'ratio':<54}{rate / raw:10.2f}  (target >= 0.25)")


if __name__ == "__main__":
    main()
