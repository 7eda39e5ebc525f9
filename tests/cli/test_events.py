"""The event-registration story from the command line (the CLI has no campaign commands of
its own: commands come in through `ledger import`): register, unanswered past the respond-by
it is in `ledger service inbox`; confirmed in time (recorded late) it is not; attended, it is
counted by `ledger report campaigns`. A bad line is named and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.main import main
from ledger.config import Settings


def on(day: int, hour: int = 9) -> str:
    return f"2025-06-{day:02d}T{hour:02d}:00:00Z"


SETUP: list[dict[str, Any]] = [
    {"type": "hire_rep", "ref": "REP-1", "name": "李娜", "team": "east", "occurred_at": on(1)},
    {
        "type": "register_customer",
        "ref": "CUST-1",
        "name": "王伟",
        "owner": "REP-1",
        "occurred_at": on(1),
    },
    {
        "type": "launch_campaign",
        "ref": "SEM-1",
        "name": "品茶研讨会",
        "channel": "event",
        "budget": "5000",
        "currency": "CNY",
        "starts_at": on(1),
        "ends_at": on(30),
        "kind": "seminar",
        "event_at": on(20),
        "capacity": 30,
        "occurred_at": on(1),
    },
    {
        "type": "record_campaign_cost",
        "campaign": "SEM-1",
        "amount": "1500",
        "currency": "CNY",
        "occurred_at": on(2),
    },
    {
        "type": "register_for_event",
        "customer": "CUST-1",
        "campaign": "SEM-1",
        "registration_id": "REG-1",
        "respond_by": on(5),
        "occurred_at": on(3),
    },
]


def imported(tmp_path: Path, name: str, commands: list[dict[str, Any]]) -> int:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in commands) + "\n")
    return main(["import", str(path)])


def inbox(capsys: pytest.CaptureFixture[str], as_of: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["service", "inbox", "--as-of", as_of, "--json"]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["data"]
    return found


def test_the_event_registration_story_from_the_command_line(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert imported(tmp_path, "setup", SETUP) == 0
    [item] = inbox(capsys, on(6))
    assert (item["item"], item["customer"], item["id"], item["what"], item["rep"]) == (
        "registration",
        "CUST-1",
        "REG-1",
        "SEM-1",
        "REP-1",
    )
    answered: list[dict[str, Any]] = [
        {
            "type": "confirm_registration",
            "customer": "CUST-1",
            "registration_id": "REG-1",
            "occurred_at": on(4),
        },
        {
            "type": "record_attendance",
            "customer": "CUST-1",
            "registration_id": "REG-1",
            "attended": True,
            "occurred_at": on(20, 10),
        },
    ]
    assert imported(tmp_path, "answered", answered) == 0
    assert inbox(capsys, on(6)) == []
    capsys.readouterr()
    assert main(["report", "campaigns", "--period", "2025-06", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["data"]
    assert {
        k: row[k]
        for k in ("campaign", "event", "registrations", "confirmed", "attended", "no_shows")
    } == {
        "campaign": "SEM-1",
        "event": "seminar",
        "registrations": 1,
        "confirmed": 1,
        "attended": 1,
        "no_shows": 0,
    }
    assert row["spend_per_attendee"] == "1500.00"


def test_a_bad_registration_line_is_named_and_writes_nothing(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert imported(tmp_path, "setup", SETUP[:4]) == 0
    bad = [
        {**SETUP[4], "respond_by": on(2)},
        {k: v for k, v in SETUP[4].items() if k != "campaign"},
        {**SETUP[4], "campaign": "SEM-404"},
    ]
    capsys.readouterr()
    assert imported(tmp_path, "bad", bad) == 1
    err = capsys.readouterr().err
    assert "line 1: register_for_event: (command): respond_by (2025-06-02T09:00:00+00:00)" in err
    assert "line 2: register_for_event: campaign: Field required" in err
    assert "line 3: no campaign with reference 'SEM-404'" in err
    assert inbox(capsys, on(30)) == []
    with pytest.raises(SystemExit) as refused:
        main(["service", "inbox", "--as-of", "June 6th"])
    assert refused.value.code == 2
    assert "argument --as-of: 'June 6th' is not an ISO 8601 instant" in capsys.readouterr().err
