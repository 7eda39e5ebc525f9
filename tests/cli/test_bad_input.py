"""Input from the edges of what a user can type: the command line refuses it with one line on
standard error and no traceback, and writes nothing, on both stores."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from tests.conftest import stored_event_count

PAST_THE_START = "0001-01-01T00:30:00+01:00"
PAST_THE_END = "9999-12-31T23:30:00-01:00"
SETUP = [
    {
        "type": "hire_rep",
        "ref": "REP-1",
        "name": "李娜",
        "team": "east",
        "occurred_at": "2025-01-01T09:00:00+08:00",
    },
    {
        "type": "register_customer",
        "ref": "CUST-1",
        "name": "王伟",
        "owner": "REP-1",
        "occurred_at": "2025-01-02T09:00:00+08:00",
    },
]


def write_lines(path: Path, commands: Sequence[Mapping[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands), encoding="utf-8"
    )
    return path


@pytest.fixture
def world(store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Settings:
    """A rep and their customer, CUST-1."""
    assert main(["import", str(write_lines(tmp_path / "setup.jsonl", SETUP))]) == 0
    capsys.readouterr()
    return store_env


def events(settings: Settings) -> int:
    app = Ledger(settings)
    try:
        return stored_event_count(app)
    finally:
        app.close()


def refused_option(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """An option the parser refuses: exit status 2, the reason on the last line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("instant", [PAST_THE_START, PAST_THE_END])
def test_an_instant_past_the_calendar_is_refused(
    world: Settings, tmp_path: Path, instant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    contact = {
        "type": "log_contact",
        "customer": "CUST-1",
        "rep": "REP-1",
        "channel": "phone",
        "direction": "in",
        "subject": "hi",
        "occurred_at": instant,
    }
    assert main(["import", str(write_lines(tmp_path / "bad.jsonl", [contact]))]) == 1
    err = capsys.readouterr().err
    assert "line 1: log_contact: occurred_at: " in err and "outside the calendar" in err
    for argv in (
        ["service", "inbox", "--as-of", instant],
        ["scheduler", "--once", "--now", instant],
    ):
        assert "outside the calendar in UTC" in refused_option(argv, capsys)
    for argv in (
        ["report", "summary", "--as-of", instant],  # a date alone is read there
        ["report", "retention", "--period", "2025", "--as-known-at", instant],
    ):
        assert "outside the calendar in UTC" in refused_input(argv, capsys)
    assert events(world) == before


def refused_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Input the ledger refuses: exit status 2 and one line on standard error."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")
    return err


@pytest.mark.parametrize("forged", ["WzFd", "WzEsIDJd", "WyIyMDI1IiwgIlAtMSIsIDFd"])
def test_a_cursor_the_ledger_never_gave_out_is_refused(
    world: Settings, forged: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["service", "inbox"],
        ["customer", "promises", "CUST-1"],
        ["compliance", "conflicts"],
        ["compliance", "violations"],
    ):
        err = refused_input([*argv, "--cursor", forged], capsys)
        assert "cursor: the cursor is not one this ledger gave out" in err


@pytest.mark.parametrize("limit", ["100000000000000000000", "1000000001", "0", "-1"])
def test_a_limit_no_database_takes_is_refused(
    world: Settings, limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["service", "inbox"],
        ["customer", "promises", "CUST-1"],
        ["compliance", "conflicts"],
        ["rep", "dossier", "REP-1"],
    ):
        last = refused_option([*argv, "--limit", limit], capsys)
        assert "argument --limit: " in last


@pytest.mark.parametrize("period", ["9999", "9999-Q4", "9999-12", "0000"])
def test_a_report_at_the_calendars_edges_is_refused_in_one_line(
    world: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    period: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    last = "9999-12-31T23:59:59Z"
    err = refused_input(["report", "retention", "--period", period], capsys)
    assert "period: " in err and "outside the years reports cover, 0001 to 9998" in err
    refused_input(["report", "retention", "--period", period, "--as-known-at", last], capsys)
    for argv in (
        ["report", "retention", "--period", "2025", "--as-known-at", last],
        ["report", "retention", "--period", "2025", "--as-occurred-by", last],
        ["report", "summary", "--as-of", last],
        ["report", "diff", "retention", "--period", "2025", "--a", last],
        [
            "report",
            "diff",
            "retention",
            "--period",
            "2025",
            "--a",
            "2030-01-01T00:00Z",
            "--b",
            last,
        ],
    ):
        err = refused_input(argv, capsys)
        assert "past the last instant reports cover, 9998-12-31T23:59:59Z" in err
    for option in ("--window", "--quick", "--days"):
        err = refused_input(["report", "complaints", "--period", "2025", option, "36501"], capsys)
        assert "from 1 to 36,500" in err
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("depth", [400, 100_000])
def test_an_import_line_nested_deep_is_refused_by_its_number(
    world: Settings, tmp_path: Path, depth: int, capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    deep = '{"a": ' * depth + '"x"' + "}" * depth
    lines = [
        '{"type": "record_purchase", "customer": "CUST-1", "order_id": "O-1", '
        '"amount": "10", "currency": "CNY"}',
        '{"type": "correct_entry", "customer": "CUST-1", "entry_id": "O-1", '
        f'"reason": "typo", "fields": {{"amount": {deep}}}}}',
    ]
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "line 2: " in err and "nests maps or lists too deep" in err
    assert events(world) == before + 1  # the purchase, not the correction


@pytest.mark.parametrize("horizon", ["inf", "nan", "-inf", "1e300", "0"])
def test_a_horizon_without_figures_is_refused(
    world: Settings, horizon: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for unit in ("weeks", "days"):
        err = refused_input(
            [
                "report",
                "churn-risk",
                "--as-of",
                "2025-06-01T00:00:00Z",
                "--unit",
                unit,
                f"--horizon={horizon}",
            ],
            capsys,
        )
        assert f"horizon: the horizon is a finite number of {unit} above 0" in err
    err = refused_input(
        ["report", "churn-risk", "--as-of", "2025-06-01T00:00:00Z", "--horizon", "5218"], capsys
    )
    assert "at most a century (36,525 days)" in err


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_a_look_alike_reference_is_the_same_customer(
    world: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contact = {
        "type": "log_contact",
        "customer": full_width("CUST-1"),
        "rep": full_width("REP-1"),
        "channel": "phone",
        "direction": "in",
        "subject": "hi",
        "occurred_at": "2025-01-03T09:00:00Z",
    }
    again = {"type": "register_customer", "ref": full_width("CUST-1"), "name": "王伟"}
    assert main(["import", str(write_lines(tmp_path / "wide.jsonl", [contact, again]))]) == 0
    assert "1 written (1 events), 1 already recorded" in capsys.readouterr().out
    assert main(["customer", "show", full_width("CUST-1"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["ref"], shown["version"]) == ("CUST-1", 2)
    assert main(["customer", "promises", full_width(" CUST-1 "), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == []
    assert main(["rep", "dossier", full_width("REP-1"), "--json"]) == 0
    owned = json.loads(capsys.readouterr().out)["customers_owned"]
    assert [row["customer"] for row in owned] == ["CUST-1"]


def test_a_reference_holding_an_unseen_character_is_refused(
    world: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    for argv in (
        ["customer", "show", "CUST-1\u200b"],
        ["rep", "dossier", "\ufeffREP-1"],
        ["service", "inbox", "--rep", "REP-1\u200f"],
        ["verify", "--customer", "CUST-\x011"],
    ):
        assert "a reference cannot hold U+" in refused_option(argv, capsys)
    hidden = {"type": "register_customer", "ref": "CUST-\u200b2", "name": "x"}
    assert main(["import", str(write_lines(tmp_path / "hidden.jsonl", [hidden]))]) == 1
    assert (
        "line 1: register_customer: ref: a reference cannot hold U+200B (ZERO WIDTH "
        "SPACE)" in capsys.readouterr().err
    )
    assert events(world) == before


def test_a_purchase_history_spelling_a_customer_two_ways_gives_one_customer(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.csv"
    history.write_text(
        "customer,day,amount\nC-7,2025-01-02,10\n"
        f"{full_width('C-7')},2025-01-03,12\nC-\u200b8,2025-01-04,5\n",
        encoding="utf-8",
    )
    argv = [
        "import-purchases",
        str(history),
        "--customer-column",
        "customer",
        "--date-column",
        "day",
        "--amount-column",
        "amount",
        "--currency",
        "CNY",
        "--workers",
        "2",
        "--json",
    ]
    assert main(argv) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["written"], report["events"]) == (3, 3)  # C-7 registered once, 2 purchases
    assert [(e["line"], e["message"][:40]) for e in report["errors"]] == [
        (4, "customer: a reference cannot hold U+200B")
    ]
    app = Ledger(store_env)
    assert [type(e).__name__ for e in app.history("customer", "C-7")] == [
        "Registered",
        "PurchaseRecorded",
        "PurchaseRecorded",
    ]
    app.close()


# -- files as other programs write them --------------------------------------------------------

CONTACT = {
    "type": "log_contact",
    "customer": "CUST-1",
    "rep": "REP-1",
    "channel": "phone",
    "direction": "in",
    "subject": "首次通话",
    "occurred_at": "2025-01-03T09:00:00Z",
}
PURCHASES = "customer,day,amount\nC-1,2025-01-02,10\n"
PURCHASE_COLUMNS = [
    "--customer-column",
    "customer",
    "--date-column",
    "day",
    "--amount-column",
    "amount",
    "--currency",
    "CNY",
]


def test_an_import_file_with_a_byte_order_mark_is_read(
    world: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    lines = tmp_path / "bom.jsonl"
    lines.write_bytes(b"\xef\xbb\xbf" + json.dumps(CONTACT).encode() + b"\r\n")
    assert main(["import", str(lines)]) == 0
    history = tmp_path / "bom.csv"
    history.write_bytes(b"\xef\xbb\xbf" + PURCHASES.encode())  # as Excel saves CSV UTF-8
    assert main(["import-purchases", str(history), *PURCHASE_COLUMNS]) == 0
    notepad = tmp_path / "utf16.jsonl"  # Notepad's "Unicode": UTF-16 with its mark
    notepad.write_text(
        json.dumps({**CONTACT, "subject": "再次"}, ensure_ascii=False) + "\n", encoding="utf-16"
    )
    assert main(["import", str(notepad)]) == 0
    assert events(world) == before + 4  # two contacts; C-1 and their purchase


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "latin-1"])
def test_a_commands_file_in_another_encoding_is_refused_a_table_read_or_named(
    world: Settings, tmp_path: Path, encoding: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    lines = tmp_path / "other.jsonl"
    text = json.dumps(
        {**CONTACT, "subject": "首次通话" if encoding != "latin-1" else "café"}, ensure_ascii=False
    )
    lines.write_bytes(text.encode(encoding) + b"\n")
    history = tmp_path / "other.csv"
    history.write_bytes(
        (
            "customer,day,amount\n"
            + ("张三" if encoding != "latin-1" else "Zoë")
            + ",2025-01-02,10\n"
        ).encode(encoding)
    )
    err = refused_input(["import", str(lines)], capsys)
    assert "not UTF-8 text" in err and "save it as UTF-8" in err
    assert events(world) == before
    # A table is read as Chinese office software saves it; a line in neither is named.
    imported = main(["import-purchases", str(history), *PURCHASE_COLUMNS])
    out, err = capsys.readouterr()
    if encoding == "latin-1":
        assert imported == 1 and "Traceback" not in err
        assert "line 2: cannot be read as UTF-8 or GB18030 text (byte 0xeb" in err
        assert events(world) == before
    else:
        assert imported == 0 and "1 lines: 2 written" in out
        assert events(world) == before + 2  # 张三 and their purchase


def test_a_line_holding_a_unicode_line_separator_stays_one_line(
    world: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    contact = {**CONTACT, "summary": "first\u2028second\u0085third"}
    assert main(["import", str(write_lines(tmp_path / "sep.jsonl", [contact]))]) == 0
    assert "1 lines: 1 written" in capsys.readouterr().out
    assert events(world) == before + 1


def test_an_import_line_with_a_number_too_long_to_read_is_refused(
    world: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text(
        json.dumps(CONTACT)[:-1] + ', "expected_version": ' + "9" * 5000 + "}\n", encoding="utf-8"
    )
    before = events(world)
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 1: not valid JSON: it holds a number too long to read" in err
    assert "Traceback" not in err
    assert events(world) == before


def test_full_width_digits_in_a_purchase_history_are_read_as_digits(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "wide.csv"
    row = f"C-2,{full_width('2025')}-01-03,{full_width('12')}.{full_width('5')}"
    history.write_text(f"customer,day,amount\n{row}\n", encoding="utf-8")
    assert main(["import-purchases", str(history), *PURCHASE_COLUMNS]) == 0
    app = Ledger(store_env)
    bought = app.history("customer", "C-2")[1]
    assert isinstance(bought, Customer.PurchaseRecorded)
    assert (str(bought.amount), bought.occurred_at.isoformat()) == (
        "12.50",
        "2025-01-03T00:00:00+00:00",
    )
    app.close()


# -- options past what they can mean ------------------------------------------------------------

OPTIONS = {
    "lapse days past a century": ["scheduler", "--once", "--lapse-days", "1000000000000"],
    "an interval of nan": ["scheduler", "--interval", "nan"],
    "an interval of inf": ["scheduler", "--interval", "inf"],
    "a poll below 0": ["projections", "run", "--once", "--poll", "-1"],
    "a batch of 0": ["projections", "run", "--once", "--batch-size", "0"],
    "100,000 workers": ["import-purchases", "x.csv", *PURCHASE_COLUMNS, "--workers", "100000"],
    "a demo of -1 customers": ["demo", "--customers", "-1"],
    "a demo of 100,000 days": ["demo", "--days", "100000"],
}


@pytest.mark.parametrize("argv", OPTIONS.values(), ids=OPTIONS.keys())
def test_an_option_past_what_it_can_mean_is_refused(
    world: Settings, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = events(world)
    assert "error: argument --" in refused_option(argv, capsys)
    assert events(world) == before


def test_a_job_every_inf_seconds_is_refused(
    world: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused_input(["scheduler", "--every", "lapsed_customers=inf"], capsys)
    assert "seconds above 0, at most a year" in err


def test_the_scheduler_runs_as_of_the_calendars_first_day(
    world: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scheduler", "--once", "--now", "0001-01-01T00:00:00Z"]) == 0
    assert "nothing to write" in capsys.readouterr().out
