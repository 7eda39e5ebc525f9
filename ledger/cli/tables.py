"""Plain-text tables that line up in a terminal, Chinese text included."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from ledger.sql import parse_iso


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cell(value: Any, limit: int = 48) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if len(text) == 27 and text.endswith("Z") and text[10] == "T":
        moment = parse_iso(text)
        text = moment.strftime("%Y-%m-%d %H:%M") if moment else text
    if width(text) > limit:
        while width(text) > limit - 1:
            text = text[:-1]
        text += "…"
    return text


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], headers: Sequence[str] | None = None
) -> str:
    """Rows as aligned columns; an empty list says so."""
    if not rows:
        return "(none)"
    heads = list(headers or columns)
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(width(h), *(width(r[i]) for r in cells)) for i, h in enumerate(heads)]

    def line(values: Sequence[str]) -> str:
        padded = (v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, cells)])
