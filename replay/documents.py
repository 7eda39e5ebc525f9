"""A report written down: one JSON shape for the command line and HTTP, how two readings of a
report differ figure by figure, and whether a saved report still holds (``check``).

    {"report": NAME,
     "reading": {"kind": "now" | "known_at" | "occurred_by", "at": T | null,
                 "position": N, "digest": "ldg1:N:..." | null, "describe": "as known ...",
                 "log_verifies": true | false, ["problems": [...] when it does not]},
     "parameters": {the report's options, as asked},
     "totals": {the whole report's figures},
     "data": [the rows]}

A difference has the same keys: ``reading`` holds both stamps (``a``, ``b``), ``totals`` and
``data`` the figures that changed (``a``, ``b``, and ``change`` where both are numbers), and
``changed`` counts them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.persistence import MapperDeserialisationError

from ledger.application import Ledger
from ledger.errors import CommandInvalid
from ledger.integrity import Integrity, parse_digest
from replay.catalogue import REPORTS, Ask, Report, report
from replay.core import Reading, ReplayFailed
from replay.periods import report_time
from replay.stamp import Stamp

KINDS = ("now", "known_at", "occurred_by")
UTC = ZoneInfo("UTC")  # a saved instant carries its zone; dates alone are not saved
ASK_FIELDS = {
    "period": str,
    "as_of": str,
    "unit": str,
    "currency": str,
    "horizon": float,
    "by": str,
    "window": int,
    "quick": int,
    "days": int,
}


def plain(value: Any) -> Any:
    """As JSON has it: Decimal money as text, tuples as lists."""
    return json.loads(json.dumps(value, default=str))


def document(found: Report, name: str, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report in its one JSON shape (``rows``: the rows as shown, e.g. pseudonymous)."""
    assert found.ask is not None and found.stamp is not None
    found_doc: dict[str, Any] = plain(
        {
            "report": name,
            "reading": found.stamp.to_dict(),
            "parameters": found.ask.parameters(),
            "totals": found.totals,
            "data": found.rows if rows is None else rows,
        }
    )
    return found_doc


def csv_text(rows: list[dict[str, Any]], columns: list[str], stamp: str | None = None) -> str:
    """The rows as CSV for a spreadsheet: a header of the columns (and any other field the
    rows hold), then the rows; ``stamp``: a first comment line (# ...) naming the reading."""
    out = io.StringIO()
    if stamp is not None:
        out.write(f"# {stamp}\n")
    fields = list(dict.fromkeys([*columns, *(k for row in rows for k in row)]))
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def described(totals: dict[str, Any]) -> list[str]:
    """The totals, one line per figure or per item of a list (e.g. per currency)."""
    lines = []
    flat = ", ".join(f"{k} {v}" for k, v in totals.items() if not isinstance(v, list | dict))
    if flat:
        lines.append(flat)
    for value in totals.values():
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        lines += [", ".join(f"{k} {v}" for k, v in item.items()) for item in items]
    return lines


# -- differences --------------------------------------------------------------------------------


@dataclass
class Difference:
    """Each figure that changed between two readings: ``rows`` hold both parts, the totals'
    (``part`` totals) and the rows' (``part`` data), keyed by the report's key columns."""

    rows: list[dict[str, Any]]
    columns: list[str]
    stamps: tuple[Stamp | None, Stamp | None] = (None, None)
    ask: Ask | None = None
    source: str = ""

    @property
    def changed(self) -> int:
        return len(self.rows)


def difference(a: Report, b: Report) -> Difference:
    changed = changes(
        a.keys,
        plain(a.totals),
        plain(a.rows),
        plain(b.totals),
        plain(b.rows),
        [*a.columns, *(c for c in b.columns if c not in a.columns)],
    )
    keys = [
        *a.keys,
        *(k for row in changed for k in row if k not in a.keys and k not in ("part", *FIGURE)),
    ]
    return Difference(
        changed,
        ["part", *dict.fromkeys(keys), *FIGURE],
        (a.stamp, b.stamp),
        a.ask,
        f"difference from the {a.source} to the {b.source}",
    )


FIGURE = ("figure", "a", "b", "change")


def changes(
    keys: list[str],
    a_totals: dict[str, Any],
    a_rows: list[dict[str, Any]],
    b_totals: dict[str, Any],
    b_rows: list[dict[str, Any]],
    columns: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every figure that differs, totals first, then rows by all their key columns."""
    found: list[dict[str, Any]] = []
    before, after = flat(a_totals), flat(b_totals)
    for name in [*before, *(n for n in after if n not in before)]:
        old, new = before.get(name), after.get(name)
        if old != new:
            named, figure = name
            found.append(
                {
                    "part": "totals",
                    **dict(named),
                    "figure": figure,
                    "a": old,
                    "b": new,
                    "change": change(old, new),
                }
            )
    figures = columns or list(dict.fromkeys(k for row in [*a_rows, *b_rows] for k in row))
    figures = [f for f in figures if f not in keys]

    def key_of(row: dict[str, Any]) -> str:
        return json.dumps([row.get(k) for k in keys], sort_keys=True, default=str)

    old_rows = {key_of(row): row for row in a_rows}
    new_rows = {key_of(row): row for row in b_rows}
    old_count, new_count = Counter(map(key_of, a_rows)), Counter(map(key_of, b_rows))
    for key in [*old_rows, *(k for k in new_rows if k not in old_rows)]:
        old_row, new_row = old_rows.get(key, {}), new_rows.get(key, {})
        names = {k: (old_row or new_row).get(k) for k in keys}
        if old_row and new_row and old_count[key] != new_count[key]:  # a row twice
            found.append(
                {
                    "part": "data",
                    **names,
                    "figure": "(rows)",
                    "a": old_count[key],
                    "b": new_count[key],
                    "change": new_count[key] - old_count[key],
                }
            )
        for figure in figures:
            old, new = old_row.get(figure), new_row.get(figure)
            if old != new:
                found.append(
                    {
                        "part": "data",
                        **names,
                        "figure": figure,
                        "a": old,
                        "b": new,
                        "change": change(old, new),
                    }
                )
    return found


def flat(totals: dict[str, Any]) -> dict[tuple[tuple[tuple[str, Any], ...], str], Any]:
    """The totals as (key columns, figure) -> value: a list of figures per currency (or other
    key, its first field) gives one figure per item and field."""
    found: dict[tuple[tuple[tuple[str, Any], ...], str], Any] = {}
    for name, value in totals.items():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and item:
                    (key, label), *rest = item.items()
                    if not isinstance(label, str | int | float | bool | None):
                        label = json.dumps(label, sort_keys=True, default=str)
                    for figure, each in rest:
                        found[(((key, label),), figure)] = each
        elif isinstance(value, dict):
            for figure, each in value.items():
                found[((), f"{name}.{figure}")] = each
        else:
            found[((), name)] = value
    return found


def change(old: Any, new: Any) -> Any:
    """new - old where both are numbers: ints and floats (rounded to 4 places), or money
    as text ("650.00"), whose change is text too ("450.00")."""
    if isinstance(old, bool) or isinstance(new, bool):
        return None
    if isinstance(old, int | float) and isinstance(new, int | float):
        return round(new - old, 4)
    if isinstance(old, str) and isinstance(new, str):
        first, second = money(old), money(new)
        if first is not None and second is not None:
            return str(second - first)
    return None


def money(text: str) -> Decimal | None:
    try:
        found = Decimal(text.strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() and text.strip()[-1:].isdigit() else None


def difference_document(
    found: Difference, name: str, rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A difference in the report's JSON shape: both stamps, and what changed."""
    assert found.ask is not None
    shown = found.rows if rows is None else rows
    a, b = found.stamps

    def part(which: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if k != "part" and (v is not None or k in FIGURE)}
            for row in shown
            if row["part"] == which
        ]

    found_doc: dict[str, Any] = plain(
        {
            "report": name,
            "reading": {"a": a.to_dict() if a else None, "b": b.to_dict() if b else None},
            "parameters": found.ask.parameters(),
            "changed": found.changed,
            "totals": part("totals"),
            "data": part("data"),
        }
    )
    return found_doc


# -- checking a saved report ----------------------------------------------------------------------


@dataclass
class Saved:
    """A saved report, read back: what to compute again, and what it said."""

    name: str
    ask: Ask
    reading: Reading
    stamp: dict[str, Any]
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    digest: str | None = None
    problems: list[str] = field(default_factory=list)


def saved(document: Any) -> Saved:
    """A saved report (the JSON shape above), or CommandInvalid naming what is wrong."""
    if not isinstance(document, dict):
        raise CommandInvalid(
            "this is not a saved report: a report is a JSON object with "
            "report, reading, parameters, totals and data",
            where="report",
        )
    try:
        json.dumps(document, allow_nan=False)
    except ValueError:
        raise CommandInvalid(
            "the report holds a number no report gives (NaN or Infinity)", where="report"
        ) from None
    name = document.get("report")
    if not isinstance(name, str) or name not in REPORTS:
        raise CommandInvalid(
            f"this is not a saved report: 'report' should name one of "
            f"{', '.join(sorted(REPORTS))}, not {name!r}",
            where="report",
        )
    stamp = document.get("reading")
    if not isinstance(stamp, dict) or "position" not in stamp:
        raise CommandInvalid(
            "the report carries no stamp: 'reading' with its kind, at, "
            "position and digest is missing",
            where="reading",
        )
    if "a" in stamp and "b" in stamp:
        raise CommandInvalid(
            "this is a difference of two readings; check the report of each reading instead",
            where="reading",
        )
    kind, at, position = stamp.get("kind"), stamp.get("at"), stamp.get("position")
    if kind not in KINDS:
        raise CommandInvalid(
            f"reading.kind is one of {', '.join(KINDS)}, not {kind!r}", where="reading.kind"
        )
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise CommandInvalid(
            f"reading.position is a log position (a whole number), not {position!r}",
            where="reading.position",
        )
    when = None
    if kind == "occurred_by" or (kind == "known_at" and at is not None):
        if not isinstance(at, str):
            raise CommandInvalid(
                f"a reading {kind} needs the instant it is of, not {at!r}", where="reading.at"
            )
        when = report_time(at, "reading.at", UTC)
    digest = stamp.get("digest")
    if digest is not None:
        if not isinstance(digest, str):
            raise CommandInvalid(
                "reading.digest is a digest (ldg1:...) or null", where="reading.digest"
            )
        at_digest = parse_digest(digest)[0] if digest.startswith("ldg1:") else None
        if at_digest != position:
            raise CommandInvalid(
                f"reading.digest {digest!r} is not a digest of the log at position {position}",
                where="reading.digest",
            )
    reading = Reading(
        as_known_at=when if kind == "known_at" else None,
        as_occurred_by=when if kind == "occurred_by" else None,
        position=position,
    )
    return Saved(
        name,
        asked(name, document.get("parameters")),
        reading,
        stamp,
        part(document, "totals", dict),
        part(document, "data", list),
        digest,
    )


def part(document: dict[str, Any], name: str, kind: type) -> Any:
    found: Any = document.get(name)
    if not isinstance(found, kind) or (
        isinstance(found, list) and not all(isinstance(row, dict) for row in found)
    ):
        what = "an object of figures" if kind is dict else "a list of rows"
        raise CommandInvalid(f"'{name}' should be {what}", where=name)
    return found


def asked(name: str, parameters: Any) -> Ask:
    if not isinstance(parameters, dict):
        raise CommandInvalid(
            "'parameters' should be the report's options (an object)", where="parameters"
        )
    options: dict[str, Any] = {}
    value: Any
    for key, value in parameters.items():
        wanted = ASK_FIELDS.get(key)
        where = f"parameters.{key}"
        if wanted is None:
            raise CommandInvalid(f"no report takes an option {key!r}", where=where)
        if value is None:
            continue
        if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise CommandInvalid(f"{key} should be {wanted.__name__}, not {value!r}", where=where)
        options[key] = report_time(str(value), where, UTC) if key == "as_of" else value
    try:
        return Ask(name, **options)
    except CommandInvalid as error:
        raise CommandInvalid(error.message, where=f"parameters.{error.where}") from None


@dataclass
class Verdict:
    saved: Saved
    differences: list[dict[str, Any]]
    log_matches: bool
    log: dict[str, Any]

    @property
    def reproduces(self) -> bool:
        return not self.differences

    @property
    def ok(self) -> bool:
        return self.reproduces and self.log_matches

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = plain(
            {
                "ok": self.ok,
                "report": self.saved.name,
                "reading": self.saved.stamp,
                "parameters": self.saved.ask.parameters(),
                "figures_reproduce": self.reproduces,
                "changed": len(self.differences),
                "totals": [without_part(r) for r in self.differences if r["part"] == "totals"],
                "data": [without_part(r) for r in self.differences if r["part"] == "data"],
                "log_unchanged": self.log_matches,
                "log": self.log,
            }
        )
        return found


def without_part(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "part"}


def check(
    ledger: Ledger,
    document: Any,
    forms: list[Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] | None = None,
) -> Verdict:
    """Compute a saved report again from its stamp and compare every figure; and prove the
    log up to the stamp's position is still the log that was digested. ``forms``: the ways
    customers may be shown in the saved rows (references, pseudonyms); the closest counts."""
    found = saved(document)
    log = log_against(ledger, found)  # first: a log changed behind the ledger's back may
    try:  # hold an event that cannot even be read
        again = report(ledger, found.ask, found.reading, stamped=False)
    except (MapperDeserialisationError, ReplayFailed) as error:
        unread = {
            "part": "totals",
            "figure": "(every figure)",
            "a": "as saved",
            "b": f"cannot be computed again: the log holds an event that cannot be "
            f"read ({str(error).splitlines()[0][:300]})",
            "change": None,
        }
        return Verdict(found, [unread], *log)
    differences: list[dict[str, Any]] | None = None
    for form in forms or [lambda rows: rows]:
        tried = changes(
            again.keys, found.totals, found.rows, plain(again.totals), plain(form(again.rows))
        )
        if differences is None or len(tried) < len(differences):
            differences = tried
    assert differences is not None
    return Verdict(found, differences, *log)


def log_against(ledger: Ledger, found: Saved) -> tuple[bool, dict[str, Any]]:
    """Whether the log up to the saved position is the one digested, and where not."""
    position = found.reading.position or 0
    about: dict[str, Any] = {"position": position, "digest": found.digest}
    if found.digest is None:
        return False, {
            **about,
            "matches": False,
            "problems": found.stamp.get("problems", []),
            "detail": "the report was saved without a digest (the log did not "
            "verify then): nothing to prove the log against",
        }
    integrity = Integrity(ledger)
    try:
        head = integrity.head()
        if position > head:
            return False, {
                **about,
                "matches": False,
                "problems": [],
                "detail": f"the log ends at position {head}, before the report's "
                f"{position}: events it was computed from are gone",
            }
        matches, verified = integrity.against(found.digest)
    finally:
        integrity.close()
    # The digest covers each stream's head: an event changed before it shows in its chain.
    matches = matches and verified.ok
    problems = [p.to_dict() for p in verified.problems]
    if matches:
        detail = f"the log up to position {position} is the one that was digested"
    elif problems:
        first = problems[0]
        detail = (
            f"the log up to position {position} has changed: {first['ref'] or 'stream '}"
            f"{'' if first['ref'] else first['stream']} version {first['version']} "
            f"{first['what']} ({first['detail']})"
        )
    else:
        detail = (
            f"the log up to position {position} has changed, though every chain holds: "
            "a stream's last events were removed or replaced whole"
        )
    return matches, {**about, "matches": matches, "problems": problems, "detail": detail}
