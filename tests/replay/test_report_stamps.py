"""Every report states its reading, the log position it was computed up to and the digest of
the log there; a saved report is computed again from that stamp and the log proved unchanged
(`ledger report check`); a diff names every figure that changed, totals included; dates are
read as people write them. Through `ledger report`, on both stores."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger import clock
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.ids import stream_id
from tests.test_integrity import raw, state

SPRING = datetime(2025, 7, 1, tzinfo=timezone.utc)  # when the first purchases were recorded
SUMMER = datetime(2025, 8, 1, tzinfo=timezone.utc)  # when more were recorded

pytestmark = pytest.mark.slow  # each report replays the log into a store of its own


def told(app: Ledger, recorded: datetime, **command: Any) -> None:
    with clock.recording_at(recorded):
        app.execute(parse_command(command), actor="test")


def bought(
    app: Ledger, recorded: datetime, customer: str, order: str, amount: str, day: str
) -> None:
    told(
        app,
        recorded,
        type="record_purchase",
        customer=customer,
        order_id=order,
        amount=amount,
        currency="CNY",
        occurred_at=f"{day}T10:00:00Z",
    )


@pytest.fixture
def shop(store_env: Settings) -> Settings:
    """Three customers who bought in 2025-Q2 (650.00 in all), recorded on July 1."""
    app = Ledger(store_env)
    for ref in ("C1", "C2", "C3", "C4"):
        told(
            app,
            SPRING,
            type="register_customer",
            ref=ref,
            name=f"Customer {ref}",
            occurred_at="2025-01-01T00:00:00Z",
        )
    bought(app, SPRING, "C1", "O-1", "200.00", "2025-04-10")
    bought(app, SPRING, "C2", "O-2", "200.00", "2025-05-10")
    bought(app, SPRING, "C3", "O-3", "250.00", "2025-06-10")
    app.close()
    return store_env


def more(store: Settings) -> None:
    """Recorded on August 1, backdated into Q2: C4's first purchase, and C1 buys again."""
    app = Ledger(store)
    bought(app, SUMMER, "C4", "O-4", "400.00", "2025-05-20")
    bought(app, SUMMER, "C1", "O-5", "50.00", "2025-06-20")
    app.close()


def cli(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> str:
    capsys.readouterr()
    assert main(list(argv)) == status, capsys.readouterr().err
    return capsys.readouterr().out


def as_json(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> Any:
    return json.loads(cli(capsys, *argv, "--format", "json", status=status))


def digest(capsys: pytest.CaptureFixture[str]) -> str:
    return cli(capsys, "digest").strip()


def test_a_report_states_its_reading_position_and_digest_in_every_format(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    printed = digest(capsys)  # what `ledger digest` prints for the log as it ends now
    position = int(printed.split(":")[1])
    found = as_json(capsys, "report", "value", "--period", "2025-Q2")
    assert found["reading"] == {
        "kind": "now",
        "at": None,
        "position": position,
        "digest": printed,
        "describe": "as known now",
        "log_verifies": True,
    }
    assert found["parameters"] == {"period": "2025-Q2"}
    assert found["totals"] == {
        "by_currency": [
            {
                "currency": "CNY",
                "customers": 3,
                "orders": 3,
                "revenue": "650.00",
                "refunded": "0",
                "top_customers": 1,
                "top_20_percent_share": 0.3846,
            }
        ]
    }
    assert [(r["customer"], r["revenue"]) for r in found["data"]] == [
        ("C3", "250.00"),
        ("C1", "200.00"),
        ("C2", "200.00"),
    ]

    shown = cli(capsys, "report", "value", "--period", "2025-Q2")  # the table: all on stdout
    assert (
        shown.splitlines()[0] == f"report value: as known now, log position {position}, "
        f"digest {printed}"
    )
    assert "customers 3, orders 3, revenue 650.00" in shown

    rows = cli(capsys, "report", "value", "--period", "2025-Q2", "--format", "csv")
    assert (
        rows.splitlines()[0] == "customer,currency,orders,revenue,refunded,cost,profit"
    )  # no stamp
    stamped = cli(capsys, "report", "value", "--period", "2025-Q2", "--format", "csv", "--stamp")
    assert (
        stamped.splitlines()[0] == f"# report value: as known now, log position "
        f"{position}, digest {printed}"
    )
    assert stamped.splitlines()[1:] == rows.splitlines()

    out = tmp_path / "value.csv"
    cli(capsys, "report", "value", "--period", "2025-Q2", "--format", "csv", "--out", str(out))
    assert list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))) == list(
        csv.DictReader(io.StringIO(rows))
    )
    beside = json.loads((tmp_path / "value.csv.stamp.json").read_text(encoding="utf-8"))
    assert beside == {k: v for k, v in found.items() if k != "data"}


def test_a_replay_states_the_position_it_read_up_to(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(capsys)
    more(shop)
    found = as_json(
        capsys, "report", "value", "--period", "2025-Q2", "--as-occurred-by", "2025-06-30"
    )
    after = digest(capsys)
    assert found["reading"] == {
        "kind": "occurred_by",
        "at": "2025-06-30T23:59:59.999999Z",
        "position": int(after.split(":")[1]),
        "digest": after,
        "describe": "as occurred by 2025-06-30T23:59:59.999999Z",
        "log_verifies": True,
    }
    assert found["totals"]["by_currency"][0]["revenue"] == "1100.00"
    # ...and stamped at the earlier position, the events recorded since are not read.
    again = as_json(
        capsys,
        "report",
        "value",
        "--period",
        "2025-Q2",
        "--as-occurred-by",
        "2025-06-30",
        "--as-known-at-position",
        before.split(":")[1],
    )
    assert again["reading"]["position"] == int(before.split(":")[1])
    assert again["reading"]["digest"] == before
    assert again["totals"]["by_currency"][0]["revenue"] == "650.00"


def test_a_saved_report_is_checked_against_later_writes_and_an_altered_log(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "retention.json"
    cli(
        capsys,
        "report",
        "retention",
        "--period",
        "2025-Q2",
        "--format",
        "json",
        "--out",
        str(saved),
    )
    kept = json.loads(saved.read_text(encoding="utf-8"))
    assert kept["reading"]["kind"] == "now" and kept["data"][0]["new"] == 3
    more(shop)  # backdated into the period: the report as known now changes...
    assert as_json(capsys, "report", "retention", "--period", "2025-Q2")["data"][0]["new"] == 4
    said = cli(capsys, "report", "check", str(saved))  # ...the saved one still reproduces
    assert "figures: reproduced, every figure as saved" in said
    assert (
        f"log: unchanged: the log up to position {kept['reading']['position']} is the "
        "one that was digested" in said
    )
    again = as_json(
        capsys,
        "report",
        "retention",
        "--period",
        "2025-Q2",
        "--as-known-at-position",
        str(kept["reading"]["position"]),
    )
    assert (again["totals"], again["data"]) == (kept["totals"], kept["data"])

    # One stored event inside the period is altered behind the ledger's back.
    with raw(shop) as (run, table, key):
        altered = state(shop, "C1", 2).replace(b'"200.00"', b'"900.00"')
        run(
            f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
            (altered, key(stream_id("customer", "C1"))),
        )
    said = cli(capsys, "report", "check", str(saved), status=1)
    assert "log: CHANGED: the log up to position" in said
    assert "C1 version 2 changed" in said
    verdict = json.loads(cli(capsys, "report", "check", str(saved), "--json", status=1))
    assert (verdict["ok"], verdict["figures_reproduce"], verdict["log_unchanged"]) == (
        False,
        True,
        False,
    )
    assert [(p["ref"], p["version"], p["what"]) for p in verdict["log"]["problems"]] == [
        ("C1", 2, "changed")
    ]
    # Altered so that it cannot even be read: the check says so, and where, without a trace.
    with raw(shop) as (run, table, key):
        run(
            f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
            (b"{not json", key(stream_id("customer", "C1"))),
        )
    verdict = json.loads(cli(capsys, "report", "check", str(saved), "--json", status=1))
    [unread] = verdict["totals"]
    assert unread["b"].startswith(
        "cannot be computed again: the log holds an event that cannot be read"
    )
    assert [(p["ref"], p["version"]) for p in verdict["log"]["problems"]] == [("C1", 2)]


def test_a_check_names_the_figures_that_do_not_reproduce_and_refuses_what_is_no_report(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    found = as_json(capsys, "report", "value", "--period", "2025-Q2")
    found["totals"]["by_currency"][0]["revenue"] = "999.00"
    found["data"][0]["orders"] = 7
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(found), encoding="utf-8")
    verdict = json.loads(cli(capsys, "report", "check", str(edited), "--json", status=1))
    assert (verdict["figures_reproduce"], verdict["log_unchanged"]) == (False, True)
    assert verdict["totals"] == [
        {"currency": "CNY", "figure": "revenue", "a": "999.00", "b": "650.00", "change": "-349.00"}
    ]
    assert verdict["data"] == [
        {"customer": "C3", "currency": "CNY", "figure": "orders", "a": 7, "b": 1, "change": -6}
    ]
    for text, message in (
        ("not json", "is not JSON"),
        ("[1, 2]", "this is not a saved report"),
        (json.dumps({**found, "reading": None}), "the report carries no stamp"),
        (json.dumps({**found, "reading": {**found["reading"], "kind": "then"}}), "reading.kind"),
        (json.dumps({**found, "parameters": {"period": "2025-Q9"}}), "parameters.period"),
    ):
        edited.write_text(text, encoding="utf-8")
        capsys.readouterr()
        assert main(["report", "check", str(edited)]) == 2
        assert message in capsys.readouterr().err
    assert main(["report", "check", str(tmp_path / "missing.json")]) == 2
    assert "FILE: cannot read" in capsys.readouterr().err


def test_a_diff_names_the_totals_that_changed_with_their_change(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    more(shop)
    found = as_json(
        capsys, "report", "diff", "value", "--period", "2025-Q2", "--a", "2025-07-15", "--b", "now"
    )
    assert found["changed"] == len(found["totals"]) + len(found["data"])
    assert (found["reading"]["a"]["kind"], found["reading"]["b"]["kind"]) == ("known_at", "now")
    totals = {t["figure"]: (t["currency"], t["a"], t["b"], t["change"]) for t in found["totals"]}
    assert totals["customers"] == ("CNY", 3, 4, 1)
    assert totals["orders"] == ("CNY", 3, 5, 2)
    assert totals["revenue"] == ("CNY", "650.00", "1100.00", "450.00")
    rows = {
        (r["customer"], r["currency"], r["figure"]): (r["a"], r["b"], r["change"])
        for r in found["data"]
    }
    assert rows == {
        ("C1", "CNY", "orders"): (1, 2, 1),
        ("C1", "CNY", "revenue"): ("200.00", "250.00", "50.00"),
        ("C4", "CNY", "orders"): (None, 1, None),  # no row before: no change
        ("C4", "CNY", "revenue"): (None, "400.00", None),
        ("C4", "CNY", "refunded"): (None, "0", None),
    }
    shown = cli(capsys, "report", "diff", "value", "--period", "2025-Q2", "--a", "2025-07-15")
    assert "totals  -         CNY       revenue" in shown and "450.00" in shown


@pytest.mark.parametrize(
    "name, options",
    [
        ("retention", ["--period", "2025-Q2"]),
        ("value", ["--period", "2025-Q2"]),
        ("summary", ["--as-of", "2025-06-30"]),
        ("relationship", ["--as-of", "2025-06-30"]),
        ("cohorts", ["--period", "2025-04..2025-06"]),
    ],
)
def test_a_diff_says_plainly_when_nothing_changed(
    shop: Settings, capsys: pytest.CaptureFixture[str], name: str, options: list[str]
) -> None:
    found = as_json(capsys, "report", "diff", name, *options, "--a", "2025-07-15")
    assert (found["changed"], found["totals"], found["data"]) == (0, [], [])
    shown = cli(capsys, "report", "diff", name, *options, "--a", "2025-07-15")
    assert "no figure changed between a (as known at 2025-07-15T23:59:59.999999Z" in shown


def test_a_diff_of_churn_risk_keys_rows_by_customer(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(store_env)
    for n in range(1, 7):
        told(
            app,
            SPRING,
            type="register_customer",
            ref=f"K{n}",
            name=f"K {n}",
            occurred_at="2025-01-01T00:00:00Z",
        )
        for k in range(n % 3 + 1):
            bought(app, SPRING, f"K{n}", f"O-{n}-{k}", "10.00", f"2025-0{2 + k}-1{n}")
    app.close()
    more_app = Ledger(store_env)
    bought(more_app, SUMMER, "K1", "O-late", "10.00", "2025-05-01")
    more_app.close()
    found = as_json(
        capsys, "report", "diff", "churn-risk", "--as-of", "2025-06-30", "--a", "2025-07-15"
    )
    assert {t["figure"] for t in found["totals"]} >= {"r", "alpha", "log_likelihood"}
    assert all(t["change"] is not None for t in found["totals"])
    assert {r["customer"] for r in found["data"]} >= {"K1"}
    assert all(set(r) == {"customer", "figure", "a", "b", "change"} for r in found["data"])


def test_dates_alone_are_the_end_of_that_day_in_the_zone(
    store_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Ledger(store_env)
    told(
        app,
        SPRING,
        type="register_customer",
        ref="D1",
        name="D",
        occurred_at="1997-01-01T00:00:00Z",
    )
    for order, moment in (
        ("O-1", "1997-01-01T10:00:00Z"),
        ("O-2", "1997-09-30T15:00:00Z"),
        ("O-3", "1997-09-30T16:30:00Z"),
    ):
        told(
            app,
            SPRING,
            type="record_purchase",
            customer="D1",
            order_id=order,
            amount="5",
            currency="USD",
            occurred_at=moment,
        )
    app.close()

    def summary(*options: str) -> tuple[str, int, str]:
        found = as_json(capsys, "report", "summary", "--unit", "days", *options)
        row = found["data"][0]
        return found["parameters"]["as_of"], row["frequency"], row["monetary_value"]

    # The whole day counts (both purchases of Sep 30, one repeat day of 10.00), as in
    # lifetimes' summary_data_from_transaction_data with observation_period_end=1997-09-30.
    assert summary("--as-of", "1997-09-30") == ("1997-09-30T23:59:59.999999Z", 1, "10.00")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "1997-09-30")  # as an IME types it
    assert summary("--as-of", full_width) == ("1997-09-30T23:59:59.999999Z", 1, "10.00")
    # An instant counts the purchases up to and including it.
    assert summary("--as-of", "1997-09-30T00:00:00Z") == ("1997-09-30T00:00:00.000000Z", 0, "0.00")
    assert summary("--as-of", "1997-09-30T15:00:00Z") == ("1997-09-30T15:00:00.000000Z", 1, "5.00")
    # In Shanghai the day ends at 16:00 UTC: the purchase at 15:00 counts, not the one at 16:30.
    assert summary("--as-of", "1997-09-30", "--tz", "Asia/Shanghai") == (
        "1997-09-30T15:59:59.999999Z",
        1,
        "5.00",
    )
    monkeypatch.setenv("LEDGER_TIMEZONE", "America/New_York")
    assert summary("--as-of", "1997-09-30")[0] == "1997-10-01T03:59:59.999999Z"
    for options, message in (
        (["--as-of", "1997-09-30T12:00:00"], "give a date, or an instant with its zone"),
        (["--as-of", "1997-09-31"], "--as-of: '1997-09-31' is not a date or an instant"),
        (["--as-of", "9998-12-31", "--tz", "Pacific/Honolulu"], "past the last instant"),
        (["--as-of", "0001-01-01T00:30:00+01:00"], "outside the calendar"),
        (["--as-of", "9999-12-31T23:00:00-05:00"], "--as-of"),
        (["--as-of", "1997-09-30", "--tz", "Mars/Olympus"], "--tz: 'Mars/Olympus' is not"),
    ):
        assert main(["report", "summary", *options]) == 2
        assert message in capsys.readouterr().err
    monkeypatch.setenv("LEDGER_TIMEZONE", "Nowhere/Land")
    assert main(["report", "summary", "--as-of", "1997-09-30"]) == 2
    assert "LEDGER_TIMEZONE: 'Nowhere/Land' is not a time zone" in capsys.readouterr().err


def test_a_report_verifies_what_is_new_and_says_when_it_does_not_verify(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    first = as_json(capsys, "report", "retention", "--period", "2025-Q2")["reading"]
    assert first["log_verifies"] is True  # and its run is kept: the next reads what is new
    more(shop)
    with raw(shop) as (run, table, key):  # C1's purchase of August, altered since
        altered = state(shop, "C1", 3).replace(b'"50.00"', b'"5000.00"')
        run(
            f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 3",
            (altered, key(stream_id("customer", "C1"))),
        )
    broken = as_json(capsys, "report", "retention", "--period", "2025-Q2")["reading"]
    assert broken["position"] > first["position"]
    assert (broken["digest"], broken["log_verifies"]) == (None, False)
    assert [(p["ref"], p["version"], p["what"]) for p in broken["problems"]] == [
        ("C1", 3, "changed")
    ]


def test_a_report_as_known_at_a_time_is_stamped_with_the_last_event_it_read(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    more(shop)  # recorded on August 1
    then = as_json(capsys, "report", "value", "--period", "2025-Q2", "--as-known-at", "2025-07-15")
    by_position = as_json(
        capsys,
        "report",
        "value",
        "--period",
        "2025-Q2",
        "--as-known-at-position",
        str(then["reading"]["position"]),
    )
    assert (by_position["totals"], by_position["data"]) == (then["totals"], then["data"])
    now = as_json(capsys, "report", "value", "--period", "2025-Q2")["reading"]["position"]
    assert then["reading"]["position"] < now
    capsys.readouterr()
    assert (
        main(["report", "value", "--period", "2025-Q2", "--as-known-at-position", str(now + 1)])
        == 2
    )
    assert f"the log ends at position {now}" in capsys.readouterr().err


def test_a_check_finds_a_row_saved_twice_and_refuses_files_it_cannot_read(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "value.json"
    cli(capsys, "report", "value", "--period", "2025-Q2", "--format", "json", "--out", str(saved))
    kept = json.loads(saved.read_text(encoding="utf-8"))
    doubled = tmp_path / "doubled.json"
    doubled.write_text(json.dumps({**kept, "data": [*kept["data"], kept["data"][0]]}))
    verdict = json.loads(cli(capsys, "report", "check", str(doubled), "--json", status=1))
    assert [(d["figure"], d["a"], d["b"]) for d in verdict["data"]] == [("(rows)", 2, 1)]
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + saved.read_bytes())
    cli(capsys, "report", "check", str(with_bom))
    for name, content in (
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("long.json", '{"report": ' + "9" * 5000 + "}"),
    ):
        bad = tmp_path / name
        bad.write_text(content)
        capsys.readouterr()
        assert main(["report", "check", str(bad)]) == 2
        assert "is not a saved report" in capsys.readouterr().err


def test_a_report_is_written_to_a_new_file_whole_or_not_at_all(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = shop.sqlite_path if not shop.database_url else tmp_path / "taken.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.touch(exist_ok=True)
    for target in (store, tmp_path, Path("/dev/full")):
        capsys.readouterr()
        assert (
            main(
                ["report", "value", "--period", "2025-Q2", "--format", "csv", "--out", str(target)]
            )
            == 2
        ), target
        assert "--out" in capsys.readouterr().err
    cli(capsys, "verify")  # the store was not written over: it verifies whole
    out = tmp_path / "v.csv"
    cli(
        capsys,
        "report",
        "value",
        "--period",
        "2025-Q2",
        "--format",
        "csv",
        "--out",
        str(out),
        "--stamp",
    )
    assert out.read_text().startswith("# report value: as known now")
    assert not (tmp_path / "v.csv.stamp.json").exists()  # the comment line instead
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "argv",
    [
        [
            "report",
            "diff",
            "value",
            "--period",
            "2025-Q2",
            "--a",
            "2025-07-15",
            "--as-known-at",
            "2025-07-01",
        ],
        [
            "report",
            "diff",
            "value",
            "--period",
            "2025-Q2",
            "--a",
            "2025-07-15",
            "--as-known-at-position",
            "3",
        ],
        ["report", "value", "--period", "2025-Q2", "--a", "2025-07-15"],
        ["report", "value", "--period", "2025-Q2", "--json"],
        ["report", "value", "--period", "2025-Q2", "--stamp"],
        ["report", "value", "--period", "2025-Q2", "--as-of", "2025-06-30", "--tz", ""],
    ],
)
def test_an_option_that_would_be_ignored_is_refused(
    shop: Settings, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and ("does not apply" in error or "time zone" in error)


def test_a_period_in_full_width_digits_is_the_same_period(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    wide = as_json(capsys, "report", "value", "--period", "２０２５-Ｑ２")  # noqa: RUF001
    plain = as_json(capsys, "report", "value", "--period", "2025-Q2")
    assert (wide["parameters"], wide["totals"], wide["data"]) == (
        plain["parameters"],
        plain["totals"],
        plain["data"],
    )
