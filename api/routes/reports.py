"""Analysts' reports over HTTP: the same figures as `ledger report`, customers by pseudonym."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.deps import Caller, MinPosition, Purpose, Services, Svc, access, require, wait_for
from api.keys import ApiKey
from api.problems import responses
from ledger.commands.fields import Moment
from replay.catalogue import PER_CUSTOMER, REPORTS, Ask, Report, difference, report
from replay.core import Reading
from replay.periods import reportable

router = APIRouter()
ReportName = Annotated[str, Path(pattern=f"^({'|'.join(REPORTS)})$",
                                 description=f"One of {', '.join(REPORTS)}.")]


@router.get("/reports/{name}", tags=["reports"], responses=responses(422))
async def get_report(
        svc: Svc, key: Caller, name: ReportName, request: Request,
        period: Annotated[str | None, Query(description="retention, cohorts, value: 2025-07, "
                                            "2025-Q3, 2025, or a run: 2025-Q1..2025-Q4")] = None,
        as_of: Annotated[Moment | None, Query(description="summary, churn-risk: the end of "
                                                "the observed period")] = None,
        unit: Annotated[str, Query(pattern="^(days|weeks)$")] = "weeks",
        currency: Annotated[str | None, Query(description="only purchases in this one")] = None,
        horizon: Annotated[float, Query(gt=0, description="churn-risk: units ahead")] = 52,
        as_known_at: Annotated[Moment | None, Query(description="replay only what had been "
                                                      "recorded by then")] = None,
        as_occurred_by: Annotated[Moment | None, Query(description="replay what had "
                                                         "happened by then")] = None,
        min_position: MinPosition = None, purpose: Purpose = None) -> dict[str, Any]:
    """A report as known now (from the live views), as known at a time, or as occurred by a
    time (a replay of the log, which takes as long as reading it). Analysts see customers by
    pseudonym: stable across reports, not the customer's reference."""
    require(key, ("analyst", "compliance"), "read reports")
    await svc.access.record_async([access(key, request, customer=None, fields=("report",),
                                          purpose=purpose)])
    ask = Ask(name, period=period, as_of=as_of, unit=unit, currency=currency, horizon=horizon)
    reading = Reading(as_known_at=as_known_at, as_occurred_by=as_occurred_by)
    found = await read(svc, ask, reading, min_position)
    return {"report": name, "reading": reading.to_dict(), "source": found.source,
            "model": found.model, "data": shown(svc, key, name, found.rows)}


@router.get("/reports/{name}/diff", tags=["reports"], responses=responses(422))
async def get_report_diff(
        svc: Svc, key: Caller, name: ReportName, request: Request,
        a: Annotated[Moment, Query(description="the first reading: as known at a")],
        b: Annotated[Moment | None, Query(description="the second: as known at b "
                                            "(default now)")] = None,
        period: Annotated[str | None, Query(description="as for the report")] = None,
        as_of: Annotated[Moment | None, Query(description="as for the report")] = None,
        unit: Annotated[str, Query(pattern="^(days|weeks)$")] = "weeks",
        currency: str | None = None,
        horizon: Annotated[float, Query(gt=0)] = 52, purpose: Purpose = None) -> dict[str, Any]:
    """Each figure of a report that changed between two readings of the log."""
    require(key, ("analyst", "compliance"), "read reports")
    await svc.access.record_async([access(key, request, customer=None, fields=("report",),
                                          purpose=purpose)])
    ask = Ask(name, period=period, as_of=as_of, unit=unit, currency=currency, horizon=horizon)
    first = Reading(as_known_at=reportable(a, "a"))
    second = Reading(as_known_at=reportable(b, "b"))
    found = difference(await read(svc, ask, first, None), await read(svc, ask, second, None))
    return {"report": name, "a": first.to_dict(), "b": second.to_dict(),
            "source": found.source, "data": shown(svc, key, name, found.rows)}


async def read(svc: Services, ask: Ask, reading: Reading, min_position: int | None) -> Report:
    """As known now from the live views (once they reach ``min_position``); otherwise a replay
    (which takes as long as reading the log)."""
    if reading == Reading():
        await wait_for(svc, ("activity",), min_position)
    return await svc.call(report, svc.ledger, ask, reading,
                          db=svc.db if reading == Reading() else None)


def shown(svc: Services, key: ApiKey, name: str, rows: list[dict[str, Any]]
          ) -> list[dict[str, Any]]:
    """Analysts see customers by pseudonym."""
    if key.role == "analyst" and name in PER_CUSTOMER:
        return [{**row, "customer": svc.keys.pseudonym(row["customer"])} for row in rows]
    return rows
