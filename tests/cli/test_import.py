"""`ledger import`: bad lines named by number, good lines written, re-runs write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from tests.conftest import stored_event_count

LINES = [
    '{"type": "hire_rep", "ref": "REP-1", "name": "李娜", "team": "east", '
    '"occurred_at": "2025-01-01T09:00:00+08:00"}',
    '{"type": "register_customer", "ref": "CUST-1", "name": "王伟", "owner": "REP-1", '
    '"occurred_at": "2025-01-02T09:00:00+08:00"}',
    "",
    '{"type": "log_contact", "customer": "CUST-1", "rep": "REP-1", "channel": "phone", '
    '"direction": "out", "subject": "首次通话", "occurred_at": "2025-01-03T09:00:00+08:00"}',
    '{"type": "issue_quote", "customer": "CUST-1", "rep": "REP-1", "product": "茶叶", '
    '"unit_price": -1, "currency": "CNY", "valid_until": "2025-02-01T00:00:00Z"}',
    '{"type": "log_contact", "customer": "CUST-404", "rep": "REP-1", "channel": "phone", '
    '"direction": "out", "subject": "nobody"}',
    "this is not json",
    '{"type": "keep_promise", "customer": "CUST-1", "promise_id": "P-1"}',
]


@pytest.fixture
def commands_file(tmp_path: Path) -> Path:
    path = tmp_path / "commands.jsonl"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_import_writes_good_lines_and_names_bad_ones(
    store_env: Settings, commands_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(commands_file)]) == 1
    out, err = capsys.readouterr()
    assert "7 lines: 3 written (3 events), 0 already recorded, 4 failed" in out
    assert "line 5: issue_quote: unit_price: Input should be greater than 0" in err
    assert "line 6: no customer with reference 'CUST-404'" in err
    assert "line 7: not valid JSON" in err
    assert "line 8: customer CUST-1 has no promise P-1" in err
    app = Ledger(store_env)
    assert [type(e).__name__ for e in app.history("customer", "CUST-1")] == [
        "Registered",
        "ContactLogged",
    ]
    assert stored_event_count(app) == 3


def test_importing_the_same_file_again_writes_nothing(
    store_env: Settings, commands_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["import", str(commands_file)])
    capsys.readouterr()
    assert main(["import", str(commands_file), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["written"], report["duplicates"], report["failed"]) == (0, 3, 4)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (5, "invalid_command"),
        (6, "unknown_reference"),
        (7, "invalid_command"),
        (8, "unknown_entry"),
    ]
    assert stored_event_count(Ledger(store_env)) == 3


def test_a_clean_file_exits_zero_and_small_batches_agree(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clean.jsonl"
    path.write_text("\n".join(LINES[:4]), encoding="utf-8")
    assert main(["import", str(path), "--batch-size", "1"]) == 0
    assert "3 lines: 3 written (3 events)" in capsys.readouterr().out


def test_customer_show_prints_the_history_in_the_users_zone(
    store_env: Settings, commands_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["import", str(commands_file)])
    capsys.readouterr()
    assert main(["customer", "show", "CUST-1", "--tz", "Asia/Shanghai"]) == 0
    out = capsys.readouterr().out
    assert "CUST-1  王伟  (person)" in out
    assert "2025-01-03 09:00  #2    contact" in out
    assert "subject=首次通话" in out
    assert main(["customer", "show", "CUST-404"]) == 1
    assert "no customer with reference 'CUST-404'" in capsys.readouterr().err


def test_every_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--help"],
        ["demo", "--help"],
        ["import", "--help"],
        ["customer", "show", "--help"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "LEDGER_DATABASE_URL" in out and "--seed" in out and "command_id" in out
