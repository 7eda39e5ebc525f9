"""The benchmark tables of docs/performance.md, written from a run's figures.

    python -m bench.docs var/bench/bench-sqlite-1000000.json [--docs docs/performance.md]

Each table sits between two marker comments, one pair per section:

    <!-- bench:sqlite:start -->
    ...written by python -m bench; never edited by hand...
    <!-- bench:sqlite:end -->

The sections are ``sqlite`` and ``postgres`` (full runs) and ``sqlite-quick`` and
``postgres-quick`` (``--quick`` runs, written only when asked). ``python -m bench`` rewrites its
section after a run (see ``python -m bench --help``); this module's command rewrites one from a
JSON file an earlier run wrote, for a run whose table was not written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
STORES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
SECTION_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class MarkersMissing(ValueError):
    """The document has no well-formed pair of markers for the section."""


def markers(section: str) -> tuple[str, str]:
    """The start and end marker comments of ``section``."""
    if not SECTION_NAME.fullmatch(section):
        raise ValueError(f"a section is named in lower-case letters, digits and -, not {section!r}")
    return f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->"


def section_of(store: str, quick: bool) -> str:
    """The section a run's table goes in: its store's, or its store's quick one."""
    return f"{store}-quick" if quick else store


def replace_section(text: str, section: str, body: str, *, where: str = "the document") -> str:
    """``text`` with what lies between ``section``'s two markers replaced by ``body``.

    The markers stay, each on its own line, with ``body`` between them; everything outside
    them is left as it was, so that replacing twice with the same body changes nothing the
    second time. Refuses (``MarkersMissing``, saying which marker and where) when a marker is
    missing or repeated, or the end comes before the start: nothing is written then."""
    start, end = markers(section)
    for marker in (start, end):
        count = text.count(marker)
        if count != 1:
            found = "has no" if count == 0 else f"has {count} of the"
            raise MarkersMissing(
                f"{where} {found} marker {marker}: the {section} benchmark table goes between "
                f"{start} and {end}, each once, on lines of their own"
            )
    head, rest = text.split(start)
    if end not in rest:
        raise MarkersMissing(
            f"{where} has {end} before {start}: the {section} benchmark table goes between them"
        )
    _, tail = rest.split(end)
    return f"{head}{start}\n{body.strip(chr(10))}\n{end}{tail}"


def number(value: float, unit: str) -> str:
    """A figure as the tables print it: milliseconds to a tenth, others whole from 10 up."""
    if unit == "ms" or abs(value) < 10:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def row(figure: dict[str, Any]) -> list[str]:
    """One figure of a run's JSON as table cells: benchmark, figure, baseline, ratio, target,
    met."""
    unit = figure["unit"]
    baseline = figure.get("baseline")
    ratio = figure.get("ratio")
    if ratio is None and baseline:
        ratio = figure["value"] / baseline
    target = figure.get("target")
    met = figure.get("met")
    if baseline is None:
        base = ""
    else:
        base = number(baseline, unit) + ("" if unit.endswith("/s") else f" {unit}")
        if figure.get("baseline_name"):
            base += f" ({figure['baseline_name']})"
    return [
        figure["name"],
        f"{number(figure['value'], unit)} {unit}",
        base,
        "" if ratio is None else f"{ratio:.2f}",
        "" if target is None else f"{'<=' if figure.get('at_most') else '>='} {target:g}",
        {True: "yes", False: "no", None: ""}[met],
    ]


def heading(run: dict[str, Any]) -> str:
    """The line above a run's table: date, size, kind of run and machine."""
    store = STORES.get(run["store"], run["store"])
    size = f"{run['events']:,} events"
    details = []
    if run.get("stored_events"):
        details.append(f"{run['stored_events']:,} stored")
    if run.get("customers"):
        details.append(f"of about {run['customers']:,} customers")
    if details:
        size += f" ({', '.join(details)})"
    kind = ["quick run"] if run.get("quick") else []
    if run.get("only"):
        kind.append("only " + ", ".join(run["only"]))
    parts = [f"**{store}**, {run.get('date') or 'date not recorded'}: {size}"]
    if kind:
        parts.append("; ".join(kind))
    if run.get("machine"):
        parts.append(run["machine"])
    line = "; ".join(parts) + "."
    note = str(run.get("note") or "").strip().rstrip(".")
    if note:
        line += f" {note[0].upper()}{note[1:]}."
    return line


def table(run: dict[str, Any]) -> str:
    """A run's figures as a Markdown table under its heading line, in the columns of the
    README's table before it was split: benchmark, the store's figure, baseline, ratio, target,
    met. ``run`` is the JSON ``python -m bench`` writes."""
    store = STORES.get(run["store"], run["store"])
    header = ["benchmark", store, "baseline", "ratio", "target", "met"]
    lines = [heading(run), "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for figure in run["figures"]:
        cells = [cell.replace("|", "\\|") for cell in row(figure)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(run: dict[str, Any], docs: Path = DOCS, section: str | None = None) -> str:
    """Rewrite ``run``'s section of ``docs`` with its table; the section's name."""
    section = section or section_of(run["store"], bool(run.get("quick")))
    text = docs.read_text(encoding="utf-8")
    docs.write_text(replace_section(text, section, table(run), where=str(docs)), encoding="utf-8")
    return section


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.docs",
        description="Rewrite a benchmark table of docs/performance.md from a run's JSON file.",
    )
    parser.add_argument("json", type=Path, help="a file python -m bench wrote")
    parser.add_argument(
        "--docs", type=Path, default=DOCS, help="the document (default: %(default)s)"
    )
    parser.add_argument(
        "--section", help="the section to rewrite (default: the run's store, -quick for --quick)"
    )
    args = parser.parse_args()
    run = json.loads(args.json.read_text(encoding="utf-8"))
    try:
        section = write(run, args.docs, args.section)
    except MarkersMissing as refused:
        sys.exit(f"error: {refused}")
    print(f"the {section} table of {args.docs} rewritten from {args.json}")


if __name__ == "__main__":
    main()
