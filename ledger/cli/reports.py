"""`ledger report`: analysts' figures per period, from the live views or from a replay of the
log as known at a time or as occurred by a time, each stamped with its reading, log position
and digest; `ledger report diff` and `ledger report check`."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from api.keys import KeyStore
from ledger.application import Ledger
from ledger.cli.common import Commands, new_bar, open_ledger, print_json, settings_of, whole
from ledger.cli.tables import table
from ledger.config import zone_named
from ledger.errors import CommandInvalid
from replay.btyd import UNITS
from replay.catalogue import PER_CUSTOMER, REPORTS, Ask, Report, report
from replay.core import MOST_POSITION, Reading
from replay.documents import (
    Difference,
    Verdict,
    check,
    csv_text,
    described,
    difference,
    difference_document,
    document,
)
from replay.periods import report_time

DATES = (
    "a date alone (1997-09-30, the END of that day in --tz or LEDGER_TIMEZONE, default "
    "UTC) or an instant with its zone (1997-09-30T12:00:00+08:00)"
)


def add_commands(commands: Commands) -> None:
    parser = commands.add_parser(
        "report",
        help="figures per period, as known now, at a past time, or as occurred by one",
        description=textwrap.fill(
            "Analysts' figures: retention per period (active, new, returned, retained, lost by "
            "defection type; retention, churn and repeat-purchase rates), cohorts by period of "
            "first purchase, value (revenue and profit per customer, the top fifth's share), "
            "satisfaction (CSM by product or rep), complaints (time to resolution, repurchase "
            "by how complaints ended), campaigns (touches, contacts and purchases that "
            "followed, revenue against spend), relationship levels, and buy-till-you-die "
            "summaries and churn risk (BG/NBD) as of a date. Computed from the live views, or "
            "from a replay of the log as known at a time (only what had been recorded by then) "
            "or as occurred by a time (what had happened by then, whenever recorded). Every "
            "report states its reading, the log position it was computed up to and the "
            "digest of the log there (as `ledger digest` prints it); `report check FILE` "
            "computes a saved JSON report again and proves the log unchanged since.",
            88,
        ),
        epilog="examples:\n  ledger report retention --period 2025-Q3\n"
        "  ledger report retention --period 2025-01..2025-12 --format csv --out r.csv\n"
        "  ledger report retention --period 2025-Q3 --as-known-at 2025-10-01\n"
        "  ledger report retention --period 2025-Q3 --format json --out q3.json\n"
        "  ledger report check q3.json\n"
        "  ledger report retention --period 2025-Q3 --as-known-at-position 1234\n"
        "  ledger report diff retention --period 2025-Q3 --a 2025-10-01 --b now\n"
        "  ledger report churn-risk --as-of 1997-09-30 --horizon 39",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="NAME",
        help=f"the report ({', '.join(sorted(REPORTS))}); diff NAME to see "
        "how its figures changed between two readings (--a, --b); check FILE "
        "to compute a saved JSON report again",
    )
    parser.add_argument(
        "--period",
        help="retention, cohorts, value, satisfaction, complaints, campaigns: a "
        "month (2025-07), quarter (2025-Q3) or year (2025), or a run of them "
        "(2025-Q1..2025-Q4)",
    )
    parser.add_argument(
        "--as-of",
        metavar="T",
        help=f"summary, churn-risk, relationship: the end of the observed "
        f"period: {DATES}; purchases up to and including it count",
    )
    parser.add_argument(
        "--unit",
        choices=sorted(UNITS),
        default="weeks",
        help="summary, churn-risk: unit of recency, T and the horizon",
    )
    parser.add_argument("--currency", help="summary, churn-risk: only purchases in this one")
    parser.add_argument(
        "--horizon",
        type=float,
        default=52,
        help="churn-risk: expected purchases over this many units (default 52)",
    )
    parser.add_argument(
        "--by",
        choices=["product", "rep"],
        default="product",
        help="satisfaction: CSM per product (default) or per rep",
    )
    parser.add_argument(
        "--window",
        type=int,
        metavar="DAYS",
        help="complaints: repurchase within DAYS after the period (default 90); "
        "campaigns: contact or purchase within DAYS after the first touch "
        "(default 30)",
    )
    parser.add_argument(
        "--quick",
        type=int,
        default=3,
        metavar="DAYS",
        help="complaints: resolved within DAYS counts as quick (default 3)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=365,
        help="relationship: contacts in the DAYS before --as-of (default 365)",
    )
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument(
        "--as-known-at",
        metavar="T",
        help=f"replay only the events recorded at or before T: {DATES}",
    )
    reading.add_argument(
        "--as-occurred-by",
        metavar="T",
        help=f"replay the events that happened at or before T, whenever recorded: {DATES}",
    )
    parser.add_argument(
        "--as-known-at-position",
        type=whole(0, MOST_POSITION),
        metavar="N",
        help="replay only the events up to log position N (a report's stamped "
        "position): the report exactly as it was produced; with "
        "--as-occurred-by, as occurred by T and known at N",
    )
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="the zone a date alone is read in (default LEDGER_TIMEZONE, UTC)",
    )
    parser.add_argument("--a", metavar="T", help=f"diff: the first reading, as known at T: {DATES}")
    parser.add_argument(
        "--b",
        metavar="T",
        default="now",
        help="diff: the second reading, as known at T (default now)",
    )
    parser.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table (default), csv (rows only, for spreadsheets) or json (the "
        "report with its stamp, parameters and totals)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the report to FILE instead of standard output; a CSV gets "
        "FILE.stamp.json beside it: the JSON report without its rows",
    )
    parser.add_argument(
        "--stamp",
        action="store_true",
        help="csv: begin with a comment line (# report ... position ... "
        "digest ...) naming the reading",
    )
    parser.add_argument(
        "--keep-replay",
        type=Path,
        metavar="FILE",
        help="keep the replay's views in this new SQLite file",
    )
    parser.add_argument("--json", action="store_true", help="check: the verdict as JSON")
    parser.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    verb = args.words[0] if args.words[0] in ("diff", "check") else None
    names = args.words[1:] if verb else args.words
    if verb == "check":
        if len(names) != 1:
            raise CommandInvalid(
                "check one saved report: ledger report check FILE.json", where="FILE"
            )
        return run_check(args, Path(names[0]))
    if len(names) != 1:
        raise CommandInvalid(
            f"name one report ({', '.join(sorted(REPORTS))}), or diff and one report", where="NAME"
        )
    refuse_what_does_not_apply(args, verb)
    try:
        zone = zone_named(args.tz) if args.tz is not None else settings_of(args).zone
    except ValueError as error:
        raise CommandInvalid(str(error), where="--tz") from None

    def when(text: str | None, where: str) -> Any:
        return None if text is None else report_time(text, where, zone)

    ask = Ask(
        names[0],
        period=args.period,
        as_of=when(args.as_of, "--as-of"),
        unit=args.unit,
        currency=args.currency,
        horizon=args.horizon,
        by=args.by,
        window=args.window,
        quick=args.quick,
        days=args.days,
    )
    chosen = Reading(
        as_known_at=when(args.as_known_at, "--as-known-at"),
        as_occurred_by=when(args.as_occurred_by, "--as-occurred-by"),
        position=args.as_known_at_position,
    )
    if args.keep_replay is not None and chosen == Reading():
        raise CommandInvalid(
            "--keep-replay keeps a replay; give --as-known-at, "
            "--as-occurred-by or --as-known-at-position",
            where="--keep-replay",
        )
    ledger = open_ledger(args)
    try:
        if verb == "diff":
            if args.a is None:
                raise CommandInvalid(
                    "diff compares two readings: give --a T (and --b T or now)", where="--a"
                )
            first = reading_at(args.a, "--a", zone)
            second = reading_at(args.b, "--b", zone)
            found = difference(
                report(ledger, ask, first, progress=bar), report(ledger, ask, second, progress=bar)
            )
            write(args, *shown_difference(found, args))
        else:
            single = report(ledger, ask, chosen, out=args.keep_replay, progress=bar)
            write(args, *shown_report(single, args))
    finally:
        ledger.close()
    return 0


def refuse_what_does_not_apply(args: argparse.Namespace, verb: str | None) -> None:
    """An option the command would ignore is refused, naming it: a reader would otherwise
    believe it was taken into account."""
    readings = "diff compares the readings --a and --b"
    ignored = {
        "--json": (args.json, "a report's JSON is --format json"),
        "--stamp": (args.stamp and args.format != "csv", "--stamp begins a CSV"),
    }
    if verb == "diff":
        ignored |= {
            flag: (value, readings)
            for flag, value in (
                ("--as-known-at", args.as_known_at),
                ("--as-occurred-by", args.as_occurred_by),
                ("--as-known-at-position", args.as_known_at_position),
                ("--keep-replay", args.keep_replay),
            )
        }
    else:
        ignored["--a"] = (args.a, "--a and --b are for ledger report diff")
    for flag, (value, hint) in ignored.items():
        if value not in (None, False):
            raise CommandInvalid(f"{flag} does not apply here: {hint}", where=flag)


def bar(total: int | None) -> Callable[[int], None]:
    """A progress bar on standard error for a catch-up or replay of ``total`` events."""
    progress = new_bar(total, " events", leave=False)

    def advance(done: int) -> None:
        progress.update(done)
        if progress.total is not None and progress.n >= progress.total:
            progress.close()

    return advance


def reading_at(text: str, where: str, zone: ZoneInfo) -> Reading:
    if text.strip().lower() == "now":
        return Reading()
    return Reading(as_known_at=report_time(text, where, zone))


# -- writing a report down ------------------------------------------------------------------------


def shown_report(found: Report, args: argparse.Namespace) -> tuple[str, dict[str, Any], str]:
    """(the text to write, the JSON report, its stamp in one line)."""
    assert found.stamp is not None
    name = found.ask.name if found.ask else ""
    doc = document(found, name)
    line = f"report {name}: {found.stamp.line()}"
    if args.format == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n", doc, line
    if args.format == "csv":
        return csv_text(found.rows, found.columns, line if args.stamp else None), doc, line
    parts = [
        line,
        "",
        table(found.rows, found.columns),
        "",
        "totals:",
        *(f"  {figure}" for figure in described(doc["totals"])),
    ]
    return "\n".join(parts) + "\n", doc, line


def shown_difference(
    found: Difference, args: argparse.Namespace
) -> tuple[str, dict[str, Any], str]:
    name = found.ask.name if found.ask else ""
    doc = difference_document(found, name)
    a, b = found.stamps
    assert a is not None and b is not None
    line = f"report diff {name}: a {a.line()}; b {b.line()}"
    if args.format == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n", doc, line
    if args.format == "csv":
        return csv_text(found.rows, found.columns, line if args.stamp else None), doc, line
    if not found.rows:
        body = (
            f"no figure changed between a ({a.reading.describe()}, log position "
            f"{a.position}) and b ({b.reading.describe()}, log position {b.position})"
        )
    else:
        body = f"{found.changed} figures changed:\n" + table(found.rows, found.columns)
    return f"{line}\n\n{body}\n", doc, line


def write(args: argparse.Namespace, text: str, doc: dict[str, Any], line: str) -> None:
    """To standard output, or to --out (a CSV with its stamp beside it, FILE.stamp.json)."""
    if args.out is None:
        if args.format == "csv" and not args.stamp:
            print(line, file=sys.stderr)  # the rows alone on stdout, for a spreadsheet
        sys.stdout.write(text)
        return
    files = {args.out: text}
    if args.format == "csv" and not args.stamp:
        stamp = {k: v for k, v in doc.items() if k != "data"}
        files[args.out.with_name(args.out.name + ".stamp.json")] = (
            json.dumps(stamp, ensure_ascii=False, indent=2) + "\n"
        )
    written(files)
    wrote = " and its stamp ".join(str(path) for path in files)
    print(f"{line}\nwritten to {wrote}", file=sys.stderr)


def written(files: dict[Path, str]) -> None:
    """Write new files whole or not at all: each to a temporary file beside it, renamed into
    place once all are written. A file that exists already (the store's own, another
    report) is refused, not replaced."""
    for path in files:
        if not path.parent.is_dir():
            raise CommandInvalid(f"{path.parent} is not a folder", where="--out")
        if path.exists() or path.is_symlink():
            raise CommandInvalid(
                f"{path} exists already; a report is written to a new file", where="--out"
            )
    done: list[Path] = []
    try:
        for path, content in files.items():
            part = path.with_name(f".{path.name}.part")
            done.append(part)
            part.write_text(content, encoding="utf-8")
        for (path, _), part in zip(files.items(), done, strict=True):
            part.replace(path)
    except OSError as error:
        for part in done:
            part.unlink(missing_ok=True)
        raise CommandInvalid(
            f"cannot write {error.filename or '--out'}: {error.strerror or error}", where="--out"
        ) from None


# -- checking a saved report ----------------------------------------------------------------------


def run_check(args: argparse.Namespace, path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a byte-order mark, as over HTTP)
    except (OSError, UnicodeDecodeError) as error:
        raise CommandInvalid(
            f"cannot read {path}: {getattr(error, 'strerror', None) or error}", where="FILE"
        ) from None
    try:
        saved = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandInvalid(
            f"{path} is not JSON ({error.msg} at line {error.lineno}); "
            "check a report saved with --format json",
            where="FILE",
        ) from None
    except (RecursionError, ValueError) as error:  # nested too deep; an integer too long
        raise CommandInvalid(f"{path} is not a saved report: {error}", where="FILE") from None
    ledger = open_ledger(args)
    try:
        verdict = check(ledger, saved, forms_of(ledger, saved))
    except RecursionError:
        raise CommandInvalid(
            f"{path} is not a saved report: it is nested too deeply", where="FILE"
        ) from None
    finally:
        ledger.close()
    if args.json:
        print_json(verdict.to_dict())
    else:
        print(told(verdict))
    return 0 if verdict.ok else 1


def forms_of(
    ledger: Ledger, saved: Any
) -> list[Callable[[list[dict[str, Any]]], list[dict[str, Any]]]]:
    """Customers as references, or (a report an analyst saved over HTTP) by pseudonym."""
    if not (isinstance(saved, dict) and saved.get("report") in PER_CUSTOMER):
        return [lambda rows: rows]
    keys = KeyStore(ledger)
    try:
        pseudonym = keys.pseudonym
    finally:
        keys.db.close()
    return [
        lambda rows: rows,
        lambda rows: [{**row, "customer": pseudonym(row["customer"])} for row in rows],
    ]


def told(verdict: Verdict) -> str:
    found = verdict.to_dict()
    stamp = found["reading"]
    # The reading as recomputed, not the words saved beside it (which a hand may change).
    lines = [
        f"report {found['report']}, {verdict.saved.reading.describe()}, log "
        f"position {stamp['position']}, digest {stamp.get('digest') or 'none'}"
    ]
    if verdict.reproduces:
        lines.append("figures: reproduced, every figure as saved")
    else:
        lines.append(f"figures: NOT reproduced, {found['changed']} differ (a: saved, b: now):")
        lines.append(
            table(
                [{"part": r["part"], **r} for r in verdict.differences],
                list(dict.fromkeys(k for r in verdict.differences for k in r)),
            )
        )
    log = found["log"]
    lines.append(f"log: {'unchanged' if verdict.log_matches else 'CHANGED'}: {log['detail']}")
    if log["problems"]:
        lines.append(
            table(
                [{**p, "stream": p["ref"] or p["stream"]} for p in log["problems"]],
                ["stream", "version", "what", "detail"],
            )
        )
    return "\n".join(lines)
