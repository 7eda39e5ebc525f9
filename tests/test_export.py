"""The person's own copy (`ledger export`): everything the ledger holds about a customer, every
event of their record, with the digest of the log it came from; nothing personal once they
are forgotten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from ledger.demo import build_world
from ledger.sealing import PERSONAL


def personal_values(document: dict[str, Any]) -> set[str]:
    """Every personal value the document shows: profile fields and free texts, wherever."""
    found: set[str] = set()

    def walk(value: Any, name: str = "") -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, key)
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif isinstance(value, str) and name in PERSONAL | {"outcome_note"} and len(value) >= 2:
            found.add(value)

    walk({k: v for k, v in document.items() if k != "accessed_by"})
    return found


@pytest.fixture
def demo(store_env: Settings) -> Settings:
    app = Ledger(store_env)
    build_world(app, customers=25, days=150)
    app.close()
    return store_env


def exported(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["export", *args]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_an_export_holds_every_event_and_after_forgetting_nothing_personal(
    demo: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = Ledger(demo)
    history = app.history("customer", "CUST-00008")
    app.close()
    document = exported(capsys, "CUST-00008")
    assert [e["version"] for e in document["events"]] == [e.originator_version for e in history]
    assert [e["type"] for e in document["events"]] == [type(e).__name__ for e in history]
    assert all(e["occurred_at"] and e["recorded_at"] and e["actor"] for e in document["events"])
    assert document["profile"]["name"]
    assert document["log"]["verified"] and document["log"]["digest"].startswith("ldg1:")
    assert main(["verify", "--against", document["log"]["digest"]]) == 0
    capsys.readouterr()
    shown = personal_values(document)
    assert document["profile"]["name"] in shown and len(shown) > 5

    assert main(["export", "CUST-00008", "--html", "--out", str(tmp_path / "c.html")]) == 0
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert document["profile"]["name"] in page and document["log"]["digest"] in page

    assert main(["forget", "CUST-00008", "--reason", "asked to be forgotten"]) == 0
    capsys.readouterr()
    after = exported(capsys, "CUST-00008")
    assert after["erased"] is True
    assert len(after["events"]) == len(document["events"]) + 1
    assert after["events"][-1]["fields"]["reason"] == "asked to be forgotten"
    text = json.dumps(after, ensure_ascii=False)
    left = [value for value in shown if value in text]
    assert not left, left


def test_an_unknown_customer_has_no_export(
    demo: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "CUST-NOBODY"]) == 1
    assert "no customer with reference 'CUST-NOBODY'" in capsys.readouterr().err
