"""Reporting periods: a month (2025-07), a quarter (2025-Q3) or a year (2025), in UTC, and
runs of them (2025-Q1..2025-Q4); the span of the calendar reports read; and the dates and
instants a report is asked as of."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from ledger.errors import CommandInvalid

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])", re.IGNORECASE)
_YEAR = re.compile(r"(\d{4})")

# Reports cover the years 0001 to 9998: a year short of the calendar's end, so that the end
# of every period, and the margin a replay reads past its reading, are instants too.
LAST_YEAR = 9998
END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=timezone.utc)


def reportable(moment: datetime | None, where: str) -> datetime | None:
    """``moment``, if a report can be read as of it; otherwise an error naming ``where``."""
    if moment is not None and moment.replace(tzinfo=moment.tzinfo or timezone.utc) >= END:
        raise CommandInvalid(
            f"{moment.isoformat()} is past the last instant reports cover, "
            f"{LAST_YEAR}-12-31T23:59:59Z (the calendar's last year is left "
            "for the ends of periods); give an earlier one",
            where=where,
        )
    return moment


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def report_time(text: str, where: str, zone: ZoneInfo) -> datetime:
    """A time a report is read as of, as a person types it (full-width digits too): a date
    alone is the END of that day in ``zone`` (its last microsecond, so that everything on that
    day counts), an instant carries its offset or Z. A time without its zone is refused: it
    could be any of 26 hours. In UTC, and within the years reports cover."""
    typed = unicodedata.normalize("NFKC", text).strip()
    example = "1997-09-30 (the end of that day) or 1997-09-30T12:00:00+08:00"
    try:
        if _DATE.fullmatch(typed):
            moment = datetime.combine(date.fromisoformat(typed), time.max, tzinfo=zone)
        else:
            moment = datetime.fromisoformat(typed)
    except ValueError:
        raise CommandInvalid(
            f"{text!r} is not a date or an instant; give a date, or an "
            f"instant with its zone: {example}",
            where=where,
        ) from None
    if moment.tzinfo is None:
        raise CommandInvalid(
            f"{text!r} has no zone; give a date, or an instant with its zone: {example}",
            where=where,
        )
    try:
        found = moment.astimezone(timezone.utc)
    except OverflowError:
        raise CommandInvalid(
            f"{text!r} is outside the calendar in UTC; give a date or an "
            f"instant within the years reports cover, 0001 to {LAST_YEAR}",
            where=where,
        ) from None
    reportable(found, where)
    return found


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
        label = f"{start.year:04d}"
    elif months == 3:
        label = f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    else:
        label = f"{start.year:04d}-{start.month:02d}"
    return Period(start, end, label, months)


def parse_period(text: str) -> Period:
    """One period: 2025-07, 2025-Q3 or 2025."""
    if (found := re.match(r"\d{4}", text)) and not 1 <= int(found[0]) <= LAST_YEAR:
        raise CommandInvalid(
            f"{text!r} is outside the years reports cover, 0001 to "
            f"{LAST_YEAR}; give a period within them",
            where="period",
        )
    if found := _QUARTER.fullmatch(text):
        year, quarter = int(found[1]), int(found[2])
        return period_of(datetime(year, 3 * quarter - 2, 1, tzinfo=timezone.utc), 3)
    if (found := _MONTH.fullmatch(text)) and 1 <= int(found[2]) <= 12:
        return period_of(datetime(int(found[1]), int(found[2]), 1, tzinfo=timezone.utc), 1)
    if found := _YEAR.fullmatch(text):
        return period_of(datetime(int(found[1]), 1, 1, tzinfo=timezone.utc), 12)
    raise CommandInvalid(
        f"{text!r} is not a period: give a month (2025-07), a quarter (2025-Q3) or a year (2025)",
        where="period",
    )


def parse_periods(text: str) -> list[Period]:
    """One period, or a run of periods of one kind: 2025-Q1..2025-Q4 (read in Unicode's
    compatibility form, as dates are: full-width digits from an input method are digits)."""
    text = unicodedata.normalize("NFKC", text).strip()
    first_text, _, last_text = text.partition("..")
    first = parse_period(first_text)
    last = parse_period(last_text) if last_text else first
    if last.months != first.months:
        raise CommandInvalid(
            f"{text!r} mixes kinds of period; give two months, two quarters or two years",
            where="period",
        )
    if last.start < first.start:
        raise CommandInvalid(f"{text!r} ends before it starts", where="period")
    count = (months(last.start) - months(first.start)) // first.months + 1
    if count > 240:  # counted before they are made: 0001..9998 would be 119,976 months
        raise CommandInvalid(
            f"{text!r} spans {count} periods; at most 240 at a time", where="period"
        )
    periods = [first]
    while periods[-1] != last:
        periods.append(periods[-1].next())
    return periods


def months(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1
