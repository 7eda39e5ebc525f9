"""Verifying every chain, beside simply reading the same events from the store.

    python -m bench.verify [--store sqlite|postgres] [--customers 3000]

Builds the demo world in a throwaway store, lets the store settle, then in the same run
measures (1) reading every stored event of the log in pages (the raw read rate, the better of
two runs) and (2) `ledger verify`'s full run over the same events (recomputing each hash and
checking every stream's chain).
"""

from __future__ import annotations

import time

from bench.common import demo_world, read_log
from ledger.integrity import PAGE, Integrity


def main() -> None:
    with demo_world(__doc__) as (app, settings, summary):
        raw = 0.0
        for _ in range(2):
            started = time.perf_counter()
            count = read_log(app, page=PAGE, decode=False)
            raw = max(raw, count / (time.perf_counter() - started))
        integrity = Integrity(app)
        started = time.perf_counter()
        found = integrity.verify()
        rate = found.events / (time.perf_counter() - started)
        assert found.ok, found.problems[:3]
        print(f"store: {settings.describe()}; demo world of {summary.events:,} events")
        print(f"raw read of the stored events       {raw:10,.0f} events/s")
        print(
            f"ledger verify (every chain)         {rate:10,.0f} events/s   ratio {rate / raw:.2f}"
        )
        integrity.close()


if __name__ == "__main__":
    main()
