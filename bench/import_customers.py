"""A stack of business cards imported, beside a raw PostgreSQL COPY of what the import
stored; and the search for duplicates among 100,000 customers.

    python -m bench.import_customers [--store sqlite|postgres] [--rows 20000]
                                     [--customers 100000]

(1) `ledger import-customers`' code path on a CSV of generated cards (``bench/cards.py``, 3 %
of them planted duplicates) into a fresh ledger: every row validated, its personal fields
sealed, one transaction; against (2) COPYing the events and command records it stored into
a fresh ledger's tables: the database's own cost of taking those rows. Target: (1) at no less
than a quarter of (2), in rows per second.

Then the duplicate search (``ledger customers duplicates``' query) over ``--customers`` cards
whose dossier view is built (a store kept for the next run, as the worlds of ``python -m
bench`` are), the better of two runs, against its target of 10 s; it prints the planted
duplicates found and the pairs of two people.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.cards import card_stack, scored, write_cards
from bench.common import drop, kept_store, mark_built, settle, store_arguments, throwaway_settings
from bench.import_purchases import raw_copy_stored
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.customer_import import CustomerColumns, import_customers, ref_of, row_values
from ledger.files import read_rows
from ledger.importer import ImportReport
from ledger.projections.dossier import Dossier
from ledger.projections.duplicates import likely_duplicates
from ledger.projections.runner import Runner

DUPLICATE_SHARE = 0.03  # of the cards, planted duplicates
SEARCH_TARGET = 10.0  # seconds, for 100,000 customers


def cards_file(folder: Path, customers: int, seed: int = 11) -> tuple[Path, list[int]]:
    """A CSV of ``customers`` cards (a share of them planted duplicates), and who each is."""
    planted = int(customers * DUPLICATE_SHARE)
    rows, people = card_stack(customers - planted, planted, seed=seed)
    path = folder / f"cards-{customers}.csv"
    write_cards(path, rows)
    return path, people


def hire_reps(app: Ledger) -> None:
    app.execute_many(
        [
            parse_command({"type": "hire_rep", "ref": f"REP-{n}", "name": f"Rep {n}", "team": "t"})
            for n in range(1, 6)
        ],
        actor="bench",
    )


def imported(app: Ledger, path: Path) -> ImportReport:
    table = read_rows(path)
    columns = CustomerColumns()
    positions = columns.positions(table.header)
    report = import_customers(app, table.rows(), positions, columns)
    assert not report.errors, [e.to_dict() for e in report.errors[:3]]
    return report


def import_rate(args: argparse.Namespace, rows: int) -> tuple[float, float]:
    """Rows per second of the import, and of COPY of what it stored (PostgreSQL)."""
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-cards-"))
    path, _ = cards_file(folder, rows, seed=5)
    settings = throwaway_settings(args)
    try:
        app = Ledger(settings.model_copy(update={"cache_size": rows + 1000}))
        hire_reps(app)
        started = time.perf_counter()
        report = imported(app, path)
        rate = report.lines / (time.perf_counter() - started)
        raw = raw_copy_stored(args.database_url, app, report.lines)
        app.close()
    finally:
        drop(settings)
    return rate, raw


def cards_world(args: argparse.Namespace, customers: int) -> tuple[Settings, Path, list[int]]:
    """A store of ``customers`` imported cards with its dossier view built, made now or by
    an earlier run; the cards' file and who each row is."""
    name = f"cards_{customers}"
    folder = Path(args.worlds) / name
    folder.mkdir(parents=True, exist_ok=True)
    path, people = cards_file(folder, customers)
    settings, done = kept_store(args, name)
    if done:
        return settings, path, people
    drop(settings)
    print(f"importing {customers:,} cards into {settings.describe()} ...", flush=True)
    started = time.perf_counter()
    app = Ledger(settings.model_copy(update={"cache_size": customers + 1000}))
    hire_reps(app)
    imported(app, path)
    runner = Runner(app, [Dossier()])
    runner.catch_up()
    assert not runner.failed, runner.failed
    runner.close()
    settle(app)
    app.close()
    mark_built(args, settings, customers)
    print(f"  imported and indexed in {time.perf_counter() - started:.0f} s", flush=True)
    return settings, path, people


def search_time(args: argparse.Namespace, customers: int) -> tuple[float, int, int, int]:
    """Seconds of the duplicate search over ``customers`` (the better of two runs, each in a
    fresh process's state: keys read anew), the planted duplicates it found, how many were
    planted, and the pairs of two people."""
    settings, path, people = cards_world(args, customers)
    table = read_rows(path)
    positions = CustomerColumns().positions(table.header)
    refs = [ref_of(row_values(cells, positions)) for _, cells in table.rows()]
    best = float("inf")
    found: dict[str, object] = {}
    for _ in range(2):
        app = Ledger(settings)
        runner = Runner(app, [Dossier()])
        started = time.perf_counter()
        found = likely_duplicates(runner.db, limit=10**7)
        best = min(best, time.perf_counter() - started)
        runner.close()
        app.close()
    data = found["data"]
    assert isinstance(data, list)
    joined, false = scored(data, people, refs)
    return best, joined, len(people) - len(set(people)), false


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--rows", type=int, default=20_000, help="cards imported (20,000)")
    parser.add_argument("--customers", type=int, default=100_000, help="searched (100,000)")
    parser.add_argument("--worlds", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    rate, raw = import_rate(args, args.rows)
    print(f"raw PostgreSQL COPY of the rows the import stored   {raw:10,.0f} rows/s")
    print(f"ledger import-customers                              {rate:10,.0f} rows/s")
    print(f"{'ratio':<53}{rate / raw:10.2f}  (target >= 0.25)")
    seconds, joined, planted, false = search_time(args, args.customers)
    print(
        f"duplicate search, {args.customers:,} customers: {seconds:.2f} s (target < "
        f"{SEARCH_TARGET:.0f} s); {joined} of {planted} planted duplicates found, "
        f"{false} pairs of two people"
    )


if __name__ == "__main__":
    main()
