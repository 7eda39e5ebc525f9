"""Files as other programs write them: every import of a table reads them through one reader."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook

from ledger.errors import CommandInvalid
from ledger.files import read_rows, spreadsheet_day

TEXT = "customer,date,amount\nC1,1997-01-13,10.00\n\n王伟,1997-01-14,20.00\n"


def rows(path: Path, **options: object) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    table = read_rows(path, **options)  # type: ignore[arg-type]
    return table.header, list(table.rows())


def test_rows_are_numbered_as_an_editor_numbers_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(TEXT, encoding="utf-8")
    assert rows(path) == (
        ["customer", "date", "amount"],
        [(2, ["C1", "1997-01-13", "10.00"]), (4, ["王伟", "1997-01-14", "20.00"])],
    )


@pytest.mark.parametrize("header", [True, False])
def test_a_byte_order_mark_is_dropped_with_or_without_a_header(
    tmp_path: Path, header: bool
) -> None:
    path = tmp_path / "bom.csv"
    text = TEXT if header else TEXT.split("\n", 1)[1]
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    found_header, found = rows(path, header=header)
    assert found[0][1][0] == "C1"
    if header:
        assert found_header == ["customer", "date", "amount"]


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-16"])
def test_chinese_office_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "cn.csv"
    path.write_bytes(TEXT.encode(encoding))
    table = read_rows(path)
    assert [cells[0] for _, cells in table.rows()] == ["C1", "王伟"]
    assert table.encoding == ("utf-16" if encoding == "utf-16" else "gb18030")


def test_an_undecodable_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(TEXT.encode() + b"C3,1997-01-15,\xff5.00\n")
    with pytest.raises(CommandInvalid, match=r"cannot be read as UTF-8 or GB18030") as error:
        read_rows(path)
    assert error.value.where == f"{path}, line 5"
    table = read_rows(path, strict=False)
    assert [n for n, _ in table.rows()] == [2, 4]
    assert [(e.line, e.where) for e in table.unreadable] == [(5, f"{path}, line 5")]


def test_a_given_encoding_is_used_and_an_unknown_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("customer\nZoë\n".encode("cp1252"))
    assert rows(path, encoding="cp1252")[1] == [(2, ["Zoë"])]
    with pytest.raises(CommandInvalid, match="not an encoding") as error:
        read_rows(path, encoding="klingon")
    assert error.value.where == "--encoding"


def test_a_quoted_cell_may_hold_a_line_break_and_whitespace_files_split_on_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n"x\ny",1\nz,2\n', encoding="utf-8")
    assert rows(path)[1] == [(2, ["x\ny", "1"]), (4, ["z", "2"])]
    path.write_text("00001   19970101  1   11.77\n00002 19970112\t2 ", encoding="utf-8")
    assert rows(path, header=False, delimiter=None)[1] == [
        (1, ["00001", "19970101", "1", "11.77"]),
        (2, ["00002", "19970112", "2"]),
    ]


def test_a_missing_file_and_a_sheet_of_a_text_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandInvalid, match="no such file"):
        read_rows(tmp_path / "nothing.csv")
    path = tmp_path / "a.csv"
    path.write_text(TEXT, encoding="utf-8")
    with pytest.raises(CommandInvalid, match="has no sheets"):
        read_rows(path, sheet="Orders")


def workbook(path: Path) -> Path:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["nothing", "here"])
    sheet = book.create_sheet("Orders")
    sheet.append(["customer", "date", "amount", "order"])
    sheet.append(["C1", date(1997, 1, 13), 10.1, 100234])
    sheet.append([])
    sheet.append(["C2", 35443, 20.0, 1e20])
    sheet.append([1234, datetime(1997, 1, 2, 10, 30), 0.1 + 0.2, True])
    book.save(path)
    return path


def test_a_workbook_sheet_is_read_with_excel_values_as_text(tmp_path: Path) -> None:
    path = workbook(tmp_path / "orders.xlsx")
    header, found = rows(path, sheet="Orders")
    assert header == ["customer", "date", "amount", "order"]
    assert found == [
        (2, ["C1", "1997-01-13", "10.1", "100234"]),
        (4, ["C2", "35443", "20", "100000000000000000000"]),
        (5, ["1234", "1997-01-02T10:30:00", "0.3", "TRUE"]),
    ]
    assert rows(path)[0] == ["nothing", "here"]  # the first sheet by default
    assert spreadsheet_day("35443") == datetime(1997, 1, 13, tzinfo=timezone.utc)
    assert spreadsheet_day("C2") is None


def test_a_workbook_refuses_an_unknown_sheet_and_an_encoding(tmp_path: Path) -> None:
    path = workbook(tmp_path / "orders.xlsx")
    with pytest.raises(CommandInvalid, match="no sheet 'Sales'; its sheets: Notes, Orders"):
        read_rows(path, sheet="Sales")
    with pytest.raises(CommandInvalid, match="no text encoding"):
        read_rows(path, encoding="utf-8")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CommandInvalid, match="not an .xlsx workbook"):
        read_rows(broken)
