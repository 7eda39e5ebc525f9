"""Reporting periods: a month (2025-07), a quarter (2025-Q3) or a year (2025), in UTC, and
runs of them (2025-Q1..2025-Q4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ledger.errors import CommandInvalid

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])", re.IGNORECASE)
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True, order=True)
class Period:
    """[start, end) in UTC, with the label it was asked for by."""

    start: datetime
    end: datetime
    label: str
    months: int  # 1, 3 or 12

    def next(self) -> Period:
        return period_of(self.end, self.months)

    def previous(self) -> Period:
        year, month = divmod(self.start.year * 12 + self.start.month - 1 - self.months, 12)
        return period_of(datetime(year, month + 1, 1, tzinfo=timezone.utc), self.months)


def period_of(start: datetime, months: int) -> Period:
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    end = datetime(year, month + 1, 1, tzinfo=timezone.utc)
    if months == 12:
        label = f"{start.year}"
    elif months == 3:
        label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    else:
        label = f"{start.year}-{start.month:02d}"
    return Period(start, end, label, months)


def parse_period(text: str) -> Period:
    """One period: 2025-07, 2025-Q3 or 2025."""
    if found := _QUARTER.fullmatch(text):
        year, quarter = int(found[1]), int(found[2])
        return period_of(datetime(year, 3 * quarter - 2, 1, tzinfo=timezone.utc), 3)
    if (found := _MONTH.fullmatch(text)) and 1 <= int(found[2]) <= 12:
        return period_of(datetime(int(found[1]), int(found[2]), 1, tzinfo=timezone.utc), 1)
    if found := _YEAR.fullmatch(text):
        return period_of(datetime(int(found[1]), 1, 1, tzinfo=timezone.utc), 12)
    raise CommandInvalid(f"{text!r} is not a period: give a month (2025-07), a quarter "
                         "(2025-Q3) or a year (2025)", where="period")


def parse_periods(text: str) -> list[Period]:
    """One period, or a run of periods of one kind: 2025-Q1..2025-Q4."""
    first_text, _, last_text = text.partition("..")
    first = parse_period(first_text)
    last = parse_period(last_text) if last_text else first
    if last.months != first.months:
        raise CommandInvalid(f"{text!r} mixes kinds of period; give two months, two quarters "
                             "or two years", where="period")
    if last.start < first.start:
        raise CommandInvalid(f"{text!r} ends before it starts", where="period")
    periods = [first]
    while periods[-1] != last:
        periods.append(periods[-1].next())
    if len(periods) > 240:
        raise CommandInvalid(f"{text!r} spans {len(periods)} periods; at most 240 at a time",
                             where="period")
    return periods
