"""`ledger rep handover` and `ledger customer hand-over`: a departed rep's hand-over from the
command line, and moving responsibility for a customer's open work."""

from __future__ import annotations

import json

import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from tests.conftest import at


@pytest.fixture
def desk(store_env: Settings) -> Settings:
    app = Ledger(store_env)
    app.execute_many(
        [
            parse_command(c)
            for c in (
                {"type": "hire_rep", "ref": "REP-M", "name": "M", "team": "east"},
                {
                    "type": "hire_rep",
                    "ref": "REP-A",
                    "name": "A",
                    "team": "east",
                    "manager": "REP-M",
                },
                {
                    "type": "hire_rep",
                    "ref": "REP-B",
                    "name": "B",
                    "team": "east",
                    "manager": "REP-M",
                },
                {"type": "register_customer", "ref": "C1", "name": "c", "owner": "REP-A"},
                {
                    "type": "make_promise",
                    "customer": "C1",
                    "rep": "REP-A",
                    "text": "samples",
                    "promise_id": "P-1",
                    "due_by": "2099-01-01T00:00:00Z",
                },
                {
                    "type": "make_promise",
                    "customer": "C1",
                    "rep": "REP-A",
                    "text": "call",
                    "promise_id": "P-2",
                    "due_by": "2099-01-01T00:00:00Z",
                },
                {"type": "depart_rep", "rep": "REP-A", "reason": "left", "occurred_at": at(400)},
            )
        ],
        actor="setup",
    )
    app.close()
    return store_env


def out(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> str:
    capsys.readouterr()
    assert main(list(argv)) == status
    return capsys.readouterr().out


def test_a_hand_over_from_the_command_line(
    desk: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    orphaned = json.loads(out(capsys, "compliance", "orphaned", "--json"))["data"]
    assert sorted((o["id"], o["responsible"], o["manager"]) for o in orphaned) == [
        ("P-1", "REP-A", "REP-M"),
        ("P-2", "REP-A", "REP-M"),
    ]
    said = out(capsys, "rep", "handover", "REP-A")
    assert "0 handed on, 3 remaining" in said and "P-1" in said and "REP-M" in said
    assert (
        out(
            capsys,
            "customer",
            "hand-over",
            "C1",
            "--item",
            "P-2",
            "--to",
            "REP-B",
            "--reason",
            "B knows them",
        )
        == "C1: P-2 handed to REP-B\n"
    )
    found = json.loads(out(capsys, "rep", "handover", "REP-A", "--json"))
    assert found["handover_progress"] == {"remaining": 2, "handed_on": 1}
    moved = json.loads(
        out(
            capsys,
            "customer",
            "hand-over",
            "C1",
            "--from",
            "REP-A",
            "--to",
            "REP-B",
            "--reason",
            "the rest",
            "--json",
        )
    )
    assert moved["moved"] == ["P-1"]
    # Nothing left of REP-A's to move: a rule refuses it (exit 1), saying why.
    capsys.readouterr()
    assert (
        main(
            ["customer", "hand-over", "C1", "--from", "REP-A", "--to", "REP-B", "--reason", "again"]
        )
        == 1
    )
    assert "no open item of customer C1 is REP-A's" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # neither --from nor --item: a usage error
        main(["customer", "hand-over", "C1", "--to", "REP-B", "--reason", "x"])
    assert refused.value.code == 2
