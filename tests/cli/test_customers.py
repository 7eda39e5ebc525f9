"""`ledger import-customers` and `ledger customers duplicates`: a stack of cards in, all or
nothing, once; likely duplicates out, with why."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from bench.cards import card_stack, scored, write_cards
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.customer_import import CustomerColumns, ref_of, row_values
from ledger.files import read_rows
from tests.conftest import stored_event_count

CARDS = [
    ["姓名", "公司", "职位", "手机", "邮箱", "负责人"],
    ["张伟", "上海华通电子有限公司", "采购经理", "138 0013 8000", "zhangwei@example.cn", "REP-1"],
    ["Mary Smith", "Acme Trading Co., Ltd.", "Buyer", "+1 415 555 0100", "", "REP-2"],
    ["李娜", "", "", "", "lina@example.cn", ""],
]


@pytest.fixture
def reps(store_env: Settings) -> Settings:
    app = Ledger(store_env)
    app.execute_many(
        [
            parse_command({"type": "hire_rep", "ref": f"REP-{n}", "name": f"Rep {n}", "team": "t"})
            for n in range(1, 6)
        ],
        actor="setup",
    )
    app.close()
    return store_env


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


def test_a_list_of_cards_is_registered_once_with_its_source(
    reps: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = write(tmp_path / "cards.csv", CARDS)
    assert main(["import-customers", str(cards), "--source", "trade show 2025"]) == 0
    assert "3 rows: 3 customers registered, 0 already recorded" in capsys.readouterr().out
    app = Ledger(reps)
    written = stored_event_count(app)
    (zhang,) = [c for _, c in rows_of(cards) if c["name"] == "张伟"]
    customer = app.customer(ref_of(zhang))
    assert customer.profile["name"] == "张伟" and customer.profile["phone"] == "138 0013 8000"
    assert customer.profile["title"] == "采购经理"
    assert customer.profile["source"] == "trade show 2025" and customer.owner == "REP-1"
    app.close()

    assert main(["import-customers", str(cards), "--source", "trade show 2025"]) == 0
    assert "3 rows: 0 customers registered, 3 already recorded" in capsys.readouterr().out
    app = Ledger(reps)
    assert stored_event_count(app) == written  # a re-run writes nothing
    app.close()


def rows_of(path: Path) -> list[tuple[int, dict[str, str]]]:
    table = read_rows(path)
    positions = CustomerColumns().positions(table.header)
    return [(n, row_values(cells, positions)) for n, cells in table.rows()]


def test_a_bad_line_is_named_and_nothing_is_written(
    reps: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(reps)
    before = stored_event_count(app)
    app.close()
    bad = [*CARDS, ["王芳", "", "", "12ab", "", ""], ["赵磊", "", "", "", "not an address", ""]]
    assert main(["import-customers", str(write(tmp_path / "bad.csv", bad))]) == 2
    out, err = capsys.readouterr()
    assert "line 5: register_customer: phone: String should match pattern" in err
    assert "line 6: register_customer: email: String should match pattern" in err
    assert "2 of 5 rows refused: nothing written" in err
    assert "Traceback" not in out + err
    # Refused by the ledger, not the row's shape: a rep nobody hired.
    unknown = [*CARDS, ["王芳", "", "", "", "", "REP-404"]]
    assert main(["import-customers", str(write(tmp_path / "rep.csv", unknown))]) == 2
    assert "line 5: no rep with reference 'REP-404'" in capsys.readouterr().err
    app = Ledger(reps)
    assert stored_event_count(app) == before
    app.close()


def test_columns_are_mapped_or_the_file_is_refused_saying_why(
    reps: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = write(tmp_path / "odd.csv", [["客户", "座机"], ["王芳", "021 5555 0101"]])
    assert main(["import-customers", str(odd)]) == 2
    err = capsys.readouterr().err
    assert "no column for the name; the header has 客户, 座机; name it with --column" in err
    assert main(["import-customers", str(odd), "--column", "nmae=客户"]) == 2
    assert "no field 'nmae'; the fields are ref, name" in capsys.readouterr().err
    assert main(["import-customers", str(odd), "--column", "name=客户", "--column", "phone=2"]) == 0
    assert main(["import-customers", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_workbook_is_read_directly(
    reps: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [
        ["Name", "Company", "Mobile", "E-mail", "Lead source"],
        *[
            [f"Guest {n}", "Horizon Tech Ltd.", f"1390000{n:04d}", f"g{n}@example.com", "expo"]
            for n in range(1, 4)
        ],
    ]:
        sheet.append(row)
    book.save(tmp_path / "guests.xlsx")
    assert main(["import-customers", str(tmp_path / "guests.xlsx"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == 3 and report["failed"] == 0


@pytest.mark.slow  # 5,300 customers imported, every view caught up, on each store
def test_planted_duplicates_are_found_among_five_thousand_cards(
    reps: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, people = card_stack(5_000, 300)
    write_cards(tmp_path / "cards.csv", rows)
    assert main(["import-customers", str(tmp_path / "cards.csv")]) == 0
    capsys.readouterr()
    assert main(["customers", "duplicates", "--limit", "100000", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    refs = [ref_of(values) for _, values in rows_of(tmp_path / "cards.csv")]
    joined, false = scored(found["data"], people, refs)
    assert joined >= 290 and false < 30, (joined, false)
    reasons = {reason for pair in found["data"] for reason in pair["reasons"]}
    assert reasons == {"phone", "email", "company_name", "company_similar_name"}
    assert all(0 < pair["score"] <= 1 for pair in found["data"])
    assert [p["score"] for p in found["data"]] == sorted(
        (p["score"] for p in found["data"]), reverse=True
    )

    assert main(["customers", "duplicates", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "why" in out and f"1-3 of {found['total']:,} likely duplicate pairs" in out
