"""Analysts' reports over HTTP: the same figures and the same JSON as `ledger report --format
json`, each stamped with its reading, log position and digest; customers by pseudonym."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from api.deps import MinPosition, Purpose, Services, Svc, access, requires, wait_for
from api.keys import ApiKey
from api.problems import responses
from replay.catalogue import PER_CUSTOMER, REPORTS, Ask, Report, report
from replay.core import MOST_POSITION, Reading
from replay.documents import (
    Difference,
    check,
    csv_text,
    difference,
    difference_document,
    document,
)
from replay.periods import report_time
from replay.stamp import Stamp

router = APIRouter()
Reader = Annotated[ApiKey, Depends(requires("analyst", "compliance", doing="read reports"))]
ReportName = Annotated[
    str, Path(pattern=f"^({'|'.join(REPORTS)})$", description=f"One of {', '.join(REPORTS)}.")
]
DATES = (
    "a date alone (1997-09-30: the end of that day in the server's LEDGER_TIMEZONE) or "
    "an instant with its zone (1997-09-30T12:00:00+08:00)"
)
When = Annotated[str | None, Query(max_length=40, description=DATES)]
Period = Annotated[
    str | None,
    Query(
        max_length=40,
        description="retention, cohorts, value, "
        "satisfaction, complaints, campaigns: 2025-07, 2025-Q3, "
        "2025, or a run: 2025-Q1..2025-Q4",
    ),
]
Unit = Annotated[Literal["days", "weeks"], Query(description="summary, churn-risk")]
Currency = Annotated[
    str | None, Query(max_length=10, description="summary, churn-risk: only purchases in this one")
]
Horizon = Annotated[float, Query(gt=0, description="churn-risk: units ahead")]
By = Annotated[Literal["product", "rep"], Query(description="satisfaction: per product or rep")]
Days = Annotated[
    int | None,
    Query(
        ge=1,
        le=36_500,
        description="complaints, campaigns: the window in days after (default 90, 30)",
    ),
]
Quick = Annotated[
    int, Query(ge=1, le=36_500, description="complaints: resolved within this many days is quick")
]
Span = Annotated[
    int, Query(ge=1, le=36_500, description="relationship: contacts in this many days before as_of")
]
Format = Annotated[
    Literal["json", "csv"],
    Query(
        description="json (default) or csv: the rows, the stamp in X-Ledger-Reading, "
        "X-Ledger-Position and X-Ledger-Digest and in the file name"
    ),
]
CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}},
        "description": "The report (JSON), or its rows as CSV with the stamp in headers.",
    }
}


@router.get("/reports/{name}", tags=["reports"], responses={**responses(422), **CSV})
async def get_report(
    svc: Svc,
    key: Reader,
    name: ReportName,
    request: Request,
    period: Period = None,
    as_of: When = None,
    unit: Unit = "weeks",
    currency: Currency = None,
    horizon: Horizon = 52,
    by: By = "product",
    window: Days = None,
    quick: Quick = 3,
    days: Span = 365,
    as_known_at: When = None,
    as_occurred_by: When = None,
    as_known_at_position: Annotated[
        int | None,
        Query(
            ge=0,
            le=MOST_POSITION,
            description="only the events up to this log position: a "
            "report exactly as it was stamped",
        ),
    ] = None,
    format: Format = "json",
    min_position: MinPosition = None,
    purpose: Purpose = None,
) -> Any:
    """A report as known now (from the live views), as known at a time, or as occurred by a
    time (a replay of the log, which takes as long as reading it), stamped with its reading,
    the log position it was computed up to and the log's digest there. Analysts see
    customers by pseudonym: stable across reports, not the customer's reference."""
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("report",), purpose=purpose)]
    )
    zone = svc.ledger.settings.zone
    ask = Ask(
        name,
        period=period,
        as_of=when(as_of, "as_of", zone),
        unit=unit,
        currency=currency,
        horizon=horizon,
        by=by,
        window=window,
        quick=quick,
        days=days,
    )
    reading = Reading(
        as_known_at=when(as_known_at, "as_known_at", zone),
        as_occurred_by=when(as_occurred_by, "as_occurred_by", zone),
        position=as_known_at_position,
    )
    found = await read(svc, ask, reading, min_position)
    rows = shown(svc, key, name, found.rows)
    if format == "csv":
        assert found.stamp is not None
        return csv_response(rows, found.columns, name, [found.stamp])
    return document(found, name, rows)


@router.get("/reports/{name}/diff", tags=["reports"], responses={**responses(422), **CSV})
async def get_report_diff(
    svc: Svc,
    key: Reader,
    name: ReportName,
    request: Request,
    a: Annotated[
        str, Query(max_length=40, description=f"the first reading, as known at a: {DATES}")
    ],
    b: Annotated[
        str | None, Query(max_length=40, description="the second: as known at b (default now)")
    ] = None,
    period: Period = None,
    as_of: When = None,
    unit: Unit = "weeks",
    currency: Currency = None,
    horizon: Horizon = 52,
    by: By = "product",
    window: Days = None,
    quick: Quick = 3,
    days: Span = 365,
    format: Format = "json",
    purpose: Purpose = None,
) -> Any:
    """Each figure of a report that changed between two readings of the log, totals
    included: a, b and the change where both are numbers; both readings' stamps."""
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("report",), purpose=purpose)]
    )
    zone = svc.ledger.settings.zone
    ask = Ask(
        name,
        period=period,
        as_of=when(as_of, "as_of", zone),
        unit=unit,
        currency=currency,
        horizon=horizon,
        by=by,
        window=window,
        quick=quick,
        days=days,
    )
    first = Reading(as_known_at=when(a, "a", zone))
    second = Reading(
        as_known_at=None if b is None or b.strip().lower() == "now" else when(b, "b", zone)
    )
    found: Difference = difference(
        await read(svc, ask, first, None), await read(svc, ask, second, None)
    )
    rows = shown(svc, key, name, found.rows)
    if format == "csv":
        return csv_response(
            rows, found.columns, f"{name}-diff", [s for s in found.stamps if s is not None]
        )
    return difference_document(found, name, rows)


@router.post("/reports/check", tags=["reports"], responses=responses(422))
async def check_report(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("analyst", "compliance", doing="check reports"))],
    request: Request,
    saved: Annotated[
        dict[str, Any],
        Body(
            description="A report as GET /reports/{name} (or `ledger report "
            "--format json`) gave it."
        ),
    ],
    purpose: Purpose = None,
) -> dict[str, Any]:
    """Compute a saved report again from its stamp (reading, position, parameters) and say
    whether every figure is as saved (naming those that are not), and whether the log up to
    its position is still the log that was digested (naming where not). `ok` when both."""
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("report",), purpose=purpose)]
    )
    pseudonyms = svc.keys.pseudonym

    def by_pseudonym(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "customer": pseudonyms(row["customer"])} for row in rows]

    def as_they_are(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows

    forms: list[Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = [as_they_are]
    if saved.get("report") in PER_CUSTOMER:
        # Analysts compare by pseudonym only (a reference never reaches them); compliance
        # may check a report either saved.
        forms = [by_pseudonym] if key.role == "analyst" else [as_they_are, by_pseudonym]
    verdict = await svc.slow(check, svc.ledger, saved, forms)
    return verdict.to_dict()


def when(text: str | None, where: str, zone: ZoneInfo) -> datetime | None:
    return None if text is None else report_time(text, where, zone)


async def read(svc: Services, ask: Ask, reading: Reading, min_position: int | None) -> Report:
    """As known now from the live views (once they reach ``min_position``); otherwise a replay
    (which takes as long as reading the log)."""
    if reading == Reading():
        await wait_for(svc, ("activity",), min_position)
    return await svc.slow(
        report, svc.ledger, ask, reading, db=svc.db if reading == Reading() else None
    )


def shown(
    svc: Services, key: ApiKey, name: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Analysts see customers by pseudonym."""
    if key.role == "analyst" and name in PER_CUSTOMER:
        return [
            {**row, "customer": svc.keys.pseudonym(row["customer"])}
            if row.get("customer") is not None
            else row
            for row in rows
        ]
    return rows


def stamp_headers(name: str, stamps: list[Stamp]) -> dict[str, str]:
    """The stamp of a CSV download in its headers and file name (two, for a difference:
    a's first; readings separated by ";", positions and digests by ",")."""
    positions = "-".join(str(s.position) for s in stamps)
    return {
        "X-Ledger-Reading": "; ".join(s.reading.describe() for s in stamps),
        "X-Ledger-Position": ",".join(str(s.position) for s in stamps),
        "X-Ledger-Digest": ",".join(s.digest or "none: the log does not verify" for s in stamps),
        "Content-Disposition": f'attachment; filename="{name}-position-{positions}.csv"',
    }


def csv_response(
    rows: list[dict[str, Any]], columns: list[str], name: str, stamps: list[Stamp]
) -> Response:
    return Response(
        csv_text(rows, columns),
        media_type="text/csv; charset=utf-8",
        headers=stamp_headers(name, stamps),
    )
