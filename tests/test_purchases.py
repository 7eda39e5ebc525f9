"""`ledger import-purchases` as an analyst uses it: fixed and reordered re-exports, refunds,
files from Excel and from Chinese office software, and stores an earlier version filled."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from ledger import clock
from ledger.aggregates import Customer
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.purchases import command_id
from tests.conftest import of_type, stored_event_count

COLUMNS = [
    "--customer-column",
    "customer",
    "--date-column",
    "date",
    "--amount-column",
    "amount",
    "--currency",
    "USD",
    "--workers",
    "1",
    "--json",
]
HEADER = "customer,date,amount\n"


def imported(path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    main(["import-purchases", str(path), *COLUMNS, *options])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def value(capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    assert main(["report", "value", "--period", "1997", "--format", "json", *options]) == 0
    found: dict[str, Any] = json.loads(capsys.readouterr().out)
    return found


def orders(capsys: pytest.CaptureFixture[str], *options: str) -> list[tuple[str, int, str]]:
    return [(r["customer"], r["orders"], r["revenue"]) for r in value(capsys, *options)["data"]]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_fixed_file_writes_the_row_that_was_refused_and_nothing_twice(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path / "a.csv", HEADER + "C9,1997-13-01,10.00\nC9,1997-01-13,20.00\n")
    report = imported(a, capsys)
    assert (report["written"], report["failed"]) == (2, 1)  # C9 registered, 20.00 bought
    assert report["errors"][0]["line"] == 2
    b = write(tmp_path / "b.csv", HEADER + "C9,1997-01-13,10.00\nC9,1997-01-13,20.00\n")
    report = imported(b, capsys)
    assert (report["written"], report["failed"], report["errors"]) == (1, 0, [])
    assert orders(capsys) == [("C9", 2, "30.00")]


def test_a_reordered_re_export_writes_nothing(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        "C1,1997-01-13,20.00",
        "C1,1997-01-13,20.00",  # the same again: a second purchase, not a repeat
        "C1,1997-01-13,5.50",
        "C2,1997-02-01,7",
        "C1,1997-03-02,20.00",
        "C2,1997-02-01,-7",  # returned the same day: a refund
    ]
    first = imported(write(tmp_path / "a.csv", HEADER + "\n".join(rows) + "\n"), capsys)
    assert (first["written"], first["failed"]) == (8, 0)  # 2 registrations, 5 orders, 1 refund
    before = stored_event_count(Ledger(store_env))
    shuffled = [rows[5], rows[2], rows[4], rows[0], rows[3], rows[1]]
    again = HEADER + "\n".join(shuffled).replace("20.00", "20") + "\n"  # 20, as Excel writes
    report = imported(write(tmp_path / "b.csv", again), capsys)
    assert (report["written"], report["duplicates"], report["failed"]) == (0, 8, 0)
    assert stored_event_count(Ledger(store_env)) == before
    assert orders(capsys) == [("C1", 4, "65.50"), ("C2", 1, "0.00")]


def test_identical_rows_are_distinct_purchases_and_the_same_ones_on_a_rerun(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "a.csv", HEADER + "C1,1997-05-01,3\n" * 3)
    assert imported(path, capsys)["written"] == 4
    path.write_text(HEADER + "C1,1997-05-01,3\n" * 4, encoding="utf-8")  # one more came in
    report = imported(path, capsys)
    assert (report["written"], report["duplicates"]) == (1, 4)
    assert orders(capsys) == [("C1", 4, "12.00")]


def test_an_order_column_names_the_order_and_a_refund_of_it(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "orders.csv",
        "order,customer,date,amount,quantity\n"
        "SO-2,C1,1997-02-10,-15.00,-1\n"  # the return comes first in the file
        "SO-1,C1,1997-01-05,40.00,2\n"
        "SO-2,C1,1997-02-01,30.00,2\n",
    )
    options = ["--order-column", "order", "--quantity-column", "quantity"]
    report = imported(path, capsys, *options)
    assert (report["written"], report["failed"]) == (4, 0)
    app = Ledger(store_env)
    history = app.history("customer", "C1")
    assert [e.order_id for e in of_type(history[1:3], Customer.PurchaseRecorded)] == [
        "SO-1",
        "SO-2",
    ]
    (refund,) = of_type(history[3:], Customer.PurchaseRefunded)
    assert (refund.order_id, str(refund.amount), str(refund.quantity)) == ("SO-2", "15.00", "1")
    app.close()
    assert imported(path, capsys, *options)["written"] == 0
    found = value(capsys)
    assert [(r["orders"], r["revenue"], r["refunded"]) for r in found["data"]] == [
        (2, "55.00", "15.00")
    ]
    assert found["totals"]["by_currency"][0]["refunded"] == "15.00"


def test_a_refund_is_not_a_purchase_in_the_buy_till_you_die_summary(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "a.csv", HEADER + "C1,1997-01-01,10\nC1,1997-01-20,30\nC1,1997-02-03,-30\n"
    )
    assert imported(path, capsys)["failed"] == 0
    argv = ["report", "summary", "--as-of", "1997-03-01", "--unit", "days", "--format", "json"]
    assert main(argv) == 0
    (row,) = json.loads(capsys.readouterr().out)["data"]
    # One repeat purchase day (Jan 20), last purchase on it: the refund is neither.
    assert (row["frequency"], row["recency"], row["monetary_value"]) == (1, 19, "30.00")


def test_a_refund_recorded_late_counts_in_its_own_period_as_occurred(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(store_env)
    for when, command in (
        ("1997-03-01", {"type": "register_customer", "ref": "C1", "name": "C1"}),
        (
            "1997-03-01",
            {
                "type": "record_purchase",
                "customer": "C1",
                "order_id": "SO-1",
                "amount": "100",
                "currency": "USD",
            },
        ),
    ):
        stamp = datetime.fromisoformat(when).replace(tzinfo=timezone.utc)
        with clock.recording_at(stamp):
            app.execute(parse_command({**command, "occurred_at": stamp}), actor="test")
    with clock.recording_at(datetime(1997, 5, 2, tzinfo=timezone.utc)):  # told in May
        app.execute(
            parse_command(
                {
                    "type": "record_refund",
                    "customer": "C1",
                    "order_id": "SO-1",
                    "amount": "40",
                    "currency": "USD",
                    "occurred_at": "1997-03-20T00:00:00Z",
                }
            ),
            actor="test",
        )
    app.close()
    assert orders(capsys, "--period", "1997-Q1") == [("C1", 1, "60")]
    assert orders(capsys, "--period", "1997-Q1", "--as-known-at", "1997-04-30") == [
        ("C1", 1, "100")
    ]


def test_a_refund_is_refused_for_an_unknown_order_or_before_its_purchase(
    ledger: Ledger,
) -> None:
    def refund(order: str, when: str) -> None:
        ledger.execute(
            parse_command(
                {
                    "type": "record_refund",
                    "customer": "C1",
                    "order_id": order,
                    "amount": "5",
                    "currency": "USD",
                    "occurred_at": when,
                }
            ),
            actor="test",
        )

    ledger.execute(
        parse_command(
            {
                "type": "register_customer",
                "ref": "C1",
                "name": "C1",
                "occurred_at": "1997-01-01T00:00:00Z",
            }
        ),
        actor="test",
    )
    ledger.execute(
        parse_command(
            {
                "type": "record_purchase",
                "customer": "C1",
                "order_id": "SO-1",
                "amount": "10",
                "currency": "USD",
                "occurred_at": "1997-02-01T00:00:00Z",
            }
        ),
        actor="test",
    )
    with pytest.raises(Exception, match="customer C1 has no purchase SO-9"):
        refund("SO-9", "1997-03-01T00:00:00Z")
    with pytest.raises(Exception, match="refund of purchase SO-1 is dated 1997-01-15"):
        refund("SO-1", "1997-01-15T00:00:00Z")


def test_a_store_an_earlier_version_filled_is_not_written_twice(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before identities came from content, rows were numbered per customer and day, and a row
    refused for its date took no number: what that version wrote for a.csv is written here as
    it wrote it. Its file again writes nothing; the fixed file only the row that was missing."""
    app = Ledger(store_env)
    occurred = datetime(1997, 1, 13, tzinfo=timezone.utc)
    app.execute_many(
        [
            parse_command(
                {
                    "type": "register_customer",
                    "ref": "C9",
                    "name": "C9",
                    "occurred_at": occurred,
                    "command_id": command_id("register:C9"),
                }
            ),
            parse_command(
                {
                    "type": "record_purchase",
                    "customer": "C9",
                    "order_id": "C9-19970113-1",
                    "amount": "20.00",
                    "currency": "USD",
                    "occurred_at": occurred,
                    "command_id": command_id("purchase:C9:C9-19970113-1"),
                }
            ),
        ],
        actor="import",
    )
    app.close()
    a = write(tmp_path / "a.csv", HEADER + "C9,1997-13-01,10.00\nC9,1997-01-13,20.00\n")
    report = imported(a, capsys)
    assert (report["written"], report["duplicates"], report["failed"]) == (0, 2, 1)
    b = write(tmp_path / "b.csv", HEADER + "C9,1997-01-13,10.00\nC9,1997-01-13,20.00\n")
    report = imported(b, capsys)
    assert (report["written"], report["duplicates"], report["failed"]) == (1, 2, 0)
    assert orders(capsys) == [("C9", 2, "30.00")]


# -- files as other programs write them --------------------------------------------------------


@pytest.mark.parametrize("header", [True, False])
def test_a_byte_order_mark_is_not_part_of_the_first_cell(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], header: bool
) -> None:
    path = tmp_path / "bom.csv"
    rows = "C1,1997-01-13,10.00\n"
    path.write_bytes(b"\xef\xbb\xbf" + ((HEADER if header else "") + rows).encode())
    options = [] if header else ["--no-header"]
    argv = [*COLUMNS]
    if not header:
        for name, number in (("customer", "1"), ("date", "2"), ("amount", "3")):
            argv[argv.index(name)] = number
    main(["import-purchases", str(path), *argv, *options])
    report = json.loads(capsys.readouterr().out)
    assert (report["written"], report["failed"]) == (2, 0)
    assert orders(capsys) == [("C1", 1, "10.00")]


def test_a_file_from_chinese_office_software_is_read(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(("客户,日期,金额\n王伟,1997-01-13,10.00\n张三,1997-01-14,5\n").encode("gbk"))
    argv = ["import-purchases", str(path), "--customer-column", "客户", "--date-column", "日期"]
    main([*argv, "--amount-column", "金额", "--currency", "CNY", "--workers", "1", "--json"])
    assert json.loads(capsys.readouterr().out)["written"] == 4
    assert [c for c, _, _ in orders(capsys)] == ["王伟", "张三"]


def test_an_undecodable_line_is_named_and_the_others_written(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(HEADER.encode() + b"C1,1997-01-13,10.00\nZo\xeb,1997-01-14,5\n")
    assert main(["import-purchases", str(path), *COLUMNS[:-1]]) == 1
    out, err = capsys.readouterr()
    assert "line 3: cannot be read as UTF-8 or GB18030 text (byte 0xeb" in err
    assert "give the file's encoding with --encoding" in err and "Traceback" not in err
    assert "1 failed" in out
    main(["import-purchases", str(path), *COLUMNS, "--encoding", "cp1252"])
    assert json.loads(capsys.readouterr().out)["written"] == 2  # Zoë and her purchase


def test_an_undecodable_header_refuses_the_file(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"customer,\xff\xfedate,amount\nC1,1997-01-13,10.00\n")
    assert main(["import-purchases", str(path), *COLUMNS]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, line 1: cannot be read") and "Traceback" not in err
    assert stored_event_count(Ledger(store_env)) == 0


def test_an_excel_workbook_is_read_directly(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.append(["not", "purchases"])
    sheet = book.create_sheet("订单")
    sheet.append(["customer", "date", "amount"])
    sheet.append(["C1", date(1997, 1, 13), 10.1])  # a date cell
    sheet.append([1001, 35444, 20])  # a number for a customer; a date kept as a serial day
    sheet.append(["C1", datetime(1997, 1, 15, 9, 30), -2.5])  # a refund
    path = tmp_path / "orders.xlsx"
    book.save(path)
    report = imported(path, capsys, "--sheet", "订单")
    assert (report["written"], report["failed"]) == (5, 0)
    assert orders(capsys) == [("1001", 1, "20.00"), ("C1", 1, "7.60")]
    assert imported(path, capsys, "--sheet", "订单")["written"] == 0
    assert main(["import-purchases", str(path), *COLUMNS, "--sheet", "Sales"]) == 2
    assert "no sheet 'Sales'; its sheets: Sheet, 订单" in capsys.readouterr().err
