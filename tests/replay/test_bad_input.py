"""Reports asked about the calendar's edges: refused, saying which years reports cover, before
anything is replayed; a replay that fails leaves nothing behind; a window that runs past the
calendar's end reads to its end."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import CommandInvalid
from ledger.projections.activity import Activity
from replay import core
from replay.catalogue import Ask, report
from replay.core import Reading, Replay
from tests.conftest import run, stored_event_count

LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
KNOWN = Reading(as_known_at=datetime(2030, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder replays make their temporary stores in, for this test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize(
    "period", ["9999", "9999-Q4", "9999-12", "0000", "0000-01", "2025..9999", "9998-12..9999-01"]
)
def test_a_period_outside_the_years_reports_cover_is_refused(
    world: Ledger, temp_dir: Path, period: str
) -> None:
    with pytest.raises(CommandInvalid) as refused:
        report(world, Ask("retention", period=period), KNOWN)
    assert refused.value.where == "period"
    assert "outside the years reports cover, 0001 to 9998" in refused.value.message
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["as_known_at", "as_occurred_by"])
def test_a_reading_past_the_years_reports_cover_is_refused(
    world: Ledger, temp_dir: Path, name: str
) -> None:
    last: dict[str, Any] = {name: LAST}
    with pytest.raises(CommandInvalid) as refused:
        report(world, Ask("retention", period="2025"), Reading(**last))
    assert refused.value.where == name
    assert "past the last instant reports cover, 9998-12-31T23:59:59Z" in refused.value.message
    with pytest.raises(CommandInvalid) as refused:
        Ask("summary", as_of=LAST)
    assert refused.value.where == "as_of"
    assert list(temp_dir.iterdir()) == []


def test_the_last_year_reports_cover_is_read(world: Ledger, temp_dir: Path) -> None:
    last = LAST.replace(year=9998)
    found = report(world, Ask("retention", period="9998-Q4"), Reading(as_known_at=last))
    assert [row["period"] for row in found.rows] == ["9998-Q4"]
    found = report(world, Ask("retention", period="0001"), Reading(as_occurred_by=last))
    assert [row["period"] for row in found.rows] == ["0001"]
    assert list(temp_dir.iterdir()) == []


def test_a_replay_that_fails_leaves_no_folder_and_no_half_kept_file(
    world: Ledger, temp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> int:
        raise OverflowError("date value out of range")

    working = core.end_of
    monkeypatch.setattr(core, "end_of", broken)
    out = tmp_path / "kept.sqlite"
    for kept in (None, out):
        with pytest.raises(OverflowError):
            Replay(world, [Activity()], KNOWN, out=kept)
    assert list(temp_dir.iterdir()) == []
    assert not out.exists()
    monkeypatch.setattr(core, "end_of", working)
    with pytest.raises(RuntimeError), Replay(world, [Activity()], KNOWN) as replay:
        replay.run()
        raise RuntimeError("a report failed on the replay")
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["window", "quick", "days"])
def test_a_span_of_days_past_a_century_is_refused(name: str) -> None:
    too_long: dict[str, Any] = {name: 36_501}
    with pytest.raises(CommandInvalid) as refused:
        Ask("complaints", period="2025", **too_long)
    assert refused.value.where == name
    assert "from 1 to 36,500" in refused.value.message
    longest: dict[str, Any] = {name: 36_500}
    assert Ask("complaints", period="2025", **longest).period == "2025"


def test_windows_that_run_past_the_calendars_end_read_to_its_end(world: Ledger) -> None:
    run(
        world,
        type="record_purchase",
        customer="CUST-1",
        order_id="O-1",
        amount="10",
        currency="CNY",
        occurred_at="9999-12-20T00:00:00Z",
    )
    run(
        world,
        type="touch_campaign",
        customer="CUST-1",
        campaign="CMP-EXPO",
        occurred_at="9999-12-30T00:00:00Z",
    )
    run(
        world,
        type="file_complaint",
        customer="CUST-1",
        category="product",
        severity="low",
        description="late",
        occurred_at="9998-12-30T00:00:00Z",
    )
    before = stored_event_count(world)
    as_occurred = Reading(as_occurred_by=LAST.replace(year=9998))
    complaints = report(world, Ask("complaints", period="9998", window=36_500), as_occurred)
    assert complaints.rows[0]["complaints"] == 1
    report(world, Ask("campaigns", period="9998", window=36_500), Reading())
    found = report(
        world,
        Ask("relationship", as_of=datetime(1, 1, 1, tzinfo=timezone.utc), days=36_500),
        Reading(),
    )
    assert found.rows[0]["level"] == "no_contact"
    assert stored_event_count(world) == before
