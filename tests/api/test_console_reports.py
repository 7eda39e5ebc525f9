"""The console's report jobs: a report runs apart and its result is kept for the CSV, for the
role that ran it only (analysts see customers by pseudonym, compliance by reference), and for
the app and store that ran it only."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from api.console.jobs import ReportJobs
from api.main import create_app
from ledger.config import Settings
from tests.api.conftest import Api, fresh_customer, signed_in

TOMORROW = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
FORM = {"name": "relationship", "reading": "now", "as_of": TOMORROW}  # contacts of the year


def caught_up(api: Api) -> None:
    head = api.services.ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 30
    while min(api.services.runner.positions().values()) < head:
        assert time.monotonic() < deadline, "the views did not catch up"
        time.sleep(0.05)


def test_an_analysts_report_job_never_answers_compliance(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("rep_a") as rep:
        contact = {"channel": "phone", "direction": "out", "subject": "follow-up"}
        assert rep.post(f"/customers/{ref}/contacts", json=contact).status_code == 201
    caught_up(api)
    pseudonym = api.services.keys.pseudonym(ref)
    with signed_in(api, "analyst") as analyst:
        deadline = time.monotonic() + 30
        while True:  # the page reloads itself until the job is done
            shown = analyst.get("/console/reports", params={**FORM, "run": "1"})
            if 'http-equiv="refresh"' not in shown.text:
                break
            assert time.monotonic() < deadline, "the report job did not finish"
            time.sleep(0.1)
        assert shown.status_code == 200, shown.text[-1500:]
        assert pseudonym in shown.text and ref not in shown.text
        analysts = analyst.get("/console/reports.csv", params=FORM)
    assert pseudonym in analysts.text and ref not in analysts.text
    with signed_in(api, "compliance") as compliance:
        theirs = compliance.get("/console/reports.csv", params=FORM)
    assert theirs.status_code == 200, theirs.text
    assert ref in theirs.text and pseudonym not in theirs.text


@pytest.mark.fast
def test_each_app_keeps_its_own_report_jobs_keyed_by_its_store(tmp_path: Path) -> None:
    one, other = (Settings(data_dir=tmp_path / name) for name in ("one", "other"))
    first, second = create_app(one), create_app(other)
    assert isinstance(first.state.report_jobs, ReportJobs)
    assert first.state.report_jobs is not second.state.report_jobs
    keys = {ReportJobs.key(settings, "analyst", FORM) for settings in (one, other)}
    keys.add(ReportJobs.key(one, "compliance", FORM))
    assert len(keys) == 3
