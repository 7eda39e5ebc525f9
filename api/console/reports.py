"""Reports (analysts, compliance): a report under the reading chosen, with its chart and table,
or the difference between two readings; each table downloads as CSV. A report runs as a job
(``api.console.jobs``): a replay reads the log up to then, and the page follows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.charts import bar_chart, heatmap, line_chart
from api.console.jobs import Job, Progress, ReportJobs
from api.console.pages import looked, page, shown_to
from api.deps import Services, Svc
from api.keys import ApiKey
from api.routes.reports import stamp_headers
from ledger.errors import CommandInvalid
from replay.catalogue import REPORTS, Ask, Report, report
from replay.core import Reading
from replay.documents import Difference, csv_text, described, difference
from replay.periods import report_time
from replay.stamp import Stamp

router = APIRouter(prefix="/console", include_in_schema=False)
CHARTED = ("retention", "cohorts", "satisfaction", "campaigns", "complaints", "value")
Reader = Annotated[ApiKey, Depends(shown_to("analyst", "compliance", doing="read reports"))]


def report_form(
    name: Annotated[str, Query(max_length=40)] = "retention",
    period: Annotated[str, Query(max_length=40)] = "",
    as_of: Annotated[str, Query(max_length=30)] = "",
    reading: Annotated[str, Query(pattern="^(now|known|occurred)$")] = "now",
    at: Annotated[str, Query(max_length=30)] = "",
    diff_a: Annotated[str, Query(max_length=30)] = "",
    diff_b: Annotated[str, Query(max_length=30)] = "",
    currency: Annotated[str, Query(max_length=3)] = "",
) -> dict[str, str]:
    """What the reports form asks for, as typed."""
    return {
        "name": name,
        "period": period,
        "as_of": as_of,
        "reading": reading,
        "at": at,
        "diff_a": diff_a,
        "diff_b": diff_b,
        "currency": currency,
    }


ReportForm = Annotated[dict[str, str], Depends(report_form)]


async def report_jobs(request: Request) -> ReportJobs:
    jobs: ReportJobs = request.app.state.report_jobs
    return jobs


Jobs = Annotated[ReportJobs, Depends(report_jobs)]


@router.get("/reports", response_class=HTMLResponse)
async def reports(
    request: Request,
    svc: Svc,
    key: Reader,
    jobs: Jobs,
    form: ReportForm,
    run: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    """A report under the reading chosen (now, as known at, as occurred by), with its chart
    and table, or the difference between two readings; each table downloads as CSV."""
    name = form["name"]
    found: Report | Difference | None = None
    job: Job | None = None
    if run:  # a report runs apart (a replay reads the log up to then); the page follows it
        asked(form, svc.ledger.settings.zone)
        await looked(request, svc, key, fields=("report",))
        job = jobs.start(
            jobs.key(svc.ledger.settings, key.role, form),
            lambda progress: report_for(svc, key, form, progress),
            live=form["reading"] == "now" and not form["diff_a"],
        )
        if job.error is not None:
            raise job.error
        found = job.result
    csv_link = "/console/reports.csv?" + urlencode(form) if found else None
    return page(
        request,
        "reports.html",
        key,
        form=form,
        names=sorted(REPORTS),
        found=found,
        job=job if found is None else None,
        chart=chart_of(name, found) if isinstance(found, Report) else None,
        stamps=stamps_of(found) if found else [],
        csv_link=csv_link,
        totals=described(found.totals) if isinstance(found, Report) else [],
    )


@router.get("/reports.csv")
async def reports_csv(
    request: Request, svc: Svc, key: Reader, jobs: Jobs, form: ReportForm
) -> Response:
    """The table as CSV, its stamp (reading, log position, digest) in the response's headers
    and the file's name: the result of the page's job if it is kept, else computed now."""
    asked(form, svc.ledger.settings.zone)
    await looked(request, svc, key, fields=("report",))
    found = jobs.result(jobs.key(svc.ledger.settings, key.role, form))
    if found is None:
        found = await svc.slow(report_for, svc, key, form)
    name = f"{form['name']}{'-diff' if form['diff_a'] else ''}"
    return Response(
        csv_text(found.rows, found.columns),
        media_type="text/csv; charset=utf-8",
        headers=stamp_headers(name, stamps_of(found)),
    )


def stamps_of(found: Report | Difference) -> list[Stamp]:
    """The stamp of a report, or both of a difference."""
    found_stamps = [found.stamp] if isinstance(found, Report) else list(found.stamps)
    return [stamp for stamp in found_stamps if stamp is not None]


def asked(form: dict[str, str], zone: ZoneInfo) -> tuple[Ask, list[Reading]]:
    """The report the form asks for and its reading (two, for a difference), checked before
    anything runs: a bad value is refused at once, not by a job that has begun. A date alone
    is the end of that day in the deployment's LEDGER_TIMEZONE."""
    if form["name"] not in REPORTS:
        raise CommandInvalid(
            f"no report {form['name']!r}; reports are {', '.join(sorted(REPORTS))}", where="name"
        )

    def when(name: str) -> datetime | None:
        return report_time(form[name], name, zone) if form[name].strip() else None

    ask = Ask(
        form["name"],
        period=form["period"] or None,
        as_of=when("as_of"),
        currency=form["currency"].strip().upper() or None,
    )
    if form["diff_a"]:
        return ask, [Reading(as_known_at=when(name)) for name in ("diff_a", "diff_b")]
    at = when("at")
    if form["reading"] != "now" and at is None:
        raise CommandInvalid("give the date the reading is as of", where="at")
    return ask, [
        Reading()
        if form["reading"] == "now"
        else Reading(as_known_at=at)
        if form["reading"] == "known"
        else Reading(as_occurred_by=at)
    ]


def report_for(
    svc: Services, key: ApiKey, form: dict[str, str], progress: Progress | None = None
) -> Report | Difference:
    """The report the form asks for (analysts see customers by pseudonym)."""
    ask, readings = asked(form, svc.ledger.settings.zone)
    found: Report | Difference
    if len(readings) == 2:
        a, b = readings
        found = difference(
            report(svc.ledger, ask, a, progress=progress),
            report(svc.ledger, ask, b, progress=progress),
        )
    else:
        chosen = readings[0]
        found = report(
            svc.ledger, ask, chosen, db=svc.db if chosen == Reading() else None, progress=progress
        )
    if key.role == "analyst" and "customer" in found.columns:
        found.rows = [
            {**row, "customer": svc.keys.pseudonym(row["customer"])}
            if row.get("customer") is not None
            else row
            for row in found.rows
        ]
    return found


def chart_of(name: str, found: Report) -> Any:
    """The chart each report is read by: retention and churn over the periods, the cohort
    heatmap, churn by defection type, CSM over the periods, campaign revenue against spend."""
    rows = found.rows
    if not rows or name not in CHARTED:
        return None
    if name == "retention":
        labels = [r["period"] for r in rows]
        rates = line_chart(
            "Retention and churn by period",
            labels,
            {
                "retention rate": column(rows, "retention_rate"),
                "churn rate": column(rows, "churn_rate"),
            },
            percent=True,
        )
        kinds = [c for c in found.columns if c.startswith("lost_")]
        lost = bar_chart(
            "Customers lost, by defection type",
            labels,
            {kind.removeprefix("lost_"): column(rows, kind) for kind in kinds},
        )
        return [rates, lost]
    if name == "cohorts":
        periods = [c for c in found.columns if c.startswith("period_")]
        return [
            heatmap(
                "Share of each cohort buying, by periods since its first purchase",
                [r["cohort"] for r in rows],
                [p.removeprefix("period_") for p in periods],
                [[number(r.get(p)) for p in periods] for r in rows],
            )
        ]
    if name == "satisfaction":
        series: dict[str, list[float | None]] = {}
        labels = sorted({r["period"] for r in rows})
        for row in rows:
            line = series.setdefault(
                str(row.get("product") or row.get("rep") or "all"), [None] * len(labels)
            )
            line[labels.index(row["period"])] = number(row.get("csm"))
        return [line_chart("CSM by period", labels, dict(list(series.items())[:6]))]
    if name == "campaigns":
        labels = [r["campaign"] for r in rows]
        return [
            bar_chart(
                "Campaign revenue against spend",
                labels,
                {"revenue": column(rows, "revenue"), "spend": column(rows, "spend")},
            )
        ]
    if name == "complaints":
        labels = [r["period"] for r in rows]
        return [
            bar_chart(
                "Complaints and resolutions",
                labels,
                {"complaints": column(rows, "complaints"), "resolved": column(rows, "resolved")},
            )
        ]
    return None


def column(rows: list[dict[str, Any]], name: str) -> list[float | None]:
    return [number(row.get(name)) for row in rows]


def number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None
