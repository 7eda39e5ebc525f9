"""Purchase summaries and the BG/NBD model against a published data set: the CDNOW sample
(tests/data/README.md), imported with `ledger import-purchases` as an analyst would."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from ledger.integrity import Integrity
from ledger.purchases import PurchaseColumns, import_purchases
from replay.btyd import BgNbd
from tests.conftest import fresh_store, of_type

DATA = Path(__file__).parent.parent / "data"
CDNOW = [
    "import-purchases",
    str(DATA / "CDNOW_sample.txt"),
    "--whitespace",
    "--no-header",
    "--customer-column",
    "2",
    "--date-column",
    "3",
    "--quantity-column",
    "4",
    "--amount-column",
    "5",
    "--date-format",
    "%Y%m%d",
    "--currency",
    "USD",
    "--json",
]
CALIBRATION_END = "1997-09-30"  # the whole day, as lifetimes' observation_period_end


def use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("LEDGER_DATABASE_SCHEMA", settings.database_schema)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cdnow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    for settings in fresh_store(request, tmp_path_factory.mktemp("cdnow")):
        with pytest.MonkeyPatch.context() as monkeypatch:
            use(settings, monkeypatch)
            assert main(CDNOW) == 0
        yield settings


@pytest.fixture
def ask(
    cdnow: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    use(cdnow, monkeypatch)
    capsys.readouterr()

    def ask(*argv: str, status: int = 0) -> Any:
        assert main([*argv]) == status
        return json.loads(capsys.readouterr().out)

    return ask


@pytest.mark.slow  # the CDNOW sample's 2,357 customers, imported once per store
def test_the_purchase_summary_is_the_published_one_for_every_customer(ask: Any) -> None:
    found = ask("report", "summary", "--as-of", CALIBRATION_END, "--format", "json")
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as published:
        expected = {
            int(row["ID"]): (int(row["x"]), float(row["t_x"]), float(row["T"]), row["zbar"])
            for row in csv.DictReader(published)
        }
    assert len(expected) == 2357
    assert {
        int(row["customer"]): (
            row["frequency"],
            round(row["recency"], 2),
            round(row["T"], 2),
            row["monetary_value"],
        )
        for row in found["data"]
    } == expected
    assert found["totals"]["customers"] == 2357


@pytest.mark.slow  # the CDNOW sample (above)
def test_the_bgnbd_fit_finds_the_published_parameters(ask: Any) -> None:
    found = ask(
        "report", "churn-risk", "--as-of", CALIBRATION_END, "--horizon", "39", "--format", "json"
    )
    model = found["totals"]
    assert (model["r"], model["alpha"], model["a"], model["b"]) == pytest.approx(
        (0.243, 4.414, 0.793, 2.426), abs=0.001
    )
    assert model["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert model["customers"] == 2357
    # Fader, Hardie & Lee's worked example: x = 2, t_x = 30.43, T = 38.86 weeks.
    first = next(row for row in found["data"] if row["customer"] == "0001")
    assert first["expected_purchases_next_39_weeks"] == pytest.approx(1.226, abs=0.001)
    fitted = BgNbd(model["r"], model["alpha"], model["a"], model["b"], 0, 0)
    assert first["p_alive"] == pytest.approx(float(fitted.p_alive(2, 30.43, 38.86)), abs=1e-3)


@pytest.mark.slow  # the CDNOW sample (above)
def test_importing_the_same_file_again_writes_nothing(ask: Any) -> None:
    report = ask(*CDNOW)
    assert (report["lines"], report["written"], report["duplicates"], report["failed"]) == (
        6919,
        0,
        6919 + 2357,
        0,
    )


def test_bad_rows_are_reported_by_line_and_the_others_written(
    store_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text(
        "order;client;day;total\n"
        "A-1;C-1;03/02/2025;10.50\n"
        "A-2;C-1;2025-02-04;12\n"  # line 3: not the date format
        "A-3;C-2;05/02/2025;ten\n"  # line 4: not a number
        "A-4;C-2;06/02/2025;-1\n"  # line 5: a refund of an order never recorded
        "A-5;C-3\n"  # line 6: too few columns
        "A-6;C-3;07/02/2025;0\n"  # free: still a purchase
        "A-7;C-2;08/02/2025;5\n"  # C-2's first good row
        '"A-8";"C;4";09/02/2025;"7.25"\n'  # quoted, as CSV
        "A-9;C\x005;10/02/2025;3\n",
        encoding="utf-8",
    )  # line 10: a NUL
    argv = [
        "import-purchases",
        str(sales),
        "--delimiter",
        ";",
        "--customer-column",
        "client",
        "--date-column",
        "day",
        "--amount-column",
        "total",
        "--order-column",
        "order",
        "--date-format",
        "%d/%m/%Y",
        "--currency",
        "EUR",
        "--json",
    ]
    assert main(argv) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(e["line"], e["message"]) for e in report["errors"]] == [
        (3, "date '2025-02-04' does not match the format '%d/%m/%Y'"),
        (4, "amount 'ten' is not a number"),
        (5, "customer C-2 has no purchase A-4"),
        (6, "the row has 2 columns, the date is column 3"),
        (
            10,
            "customer: a reference cannot hold U+0000 (a control character), which "
            "cannot be seen; type the reference without it",
        ),
    ]
    assert report["written"] == 4 + 4  # C-1, C-3, C-2, C;4 registered; A-1, A-6-8 recorded
    app = Ledger(store_env)
    bought = of_type(app.history("customer", "C;4")[1:], Customer.PurchaseRecorded)
    assert [(e.order_id, e.amount) for e in bought] == [("A-8", Decimal("7.25"))]
    app.close()
    argv[argv.index("client")] = "customer"
    assert main(argv) == 2
    assert (
        "no column 'customer' for the customer; the header has order, client, day, total"
        in capsys.readouterr().err
    )
    for option, value, message in (
        ("--currency", "RMB", "'RMB' is not an ISO 4217 currency"),
        ("--delimiter", ";;", "the delimiter is one character"),
        ("--date-column", "0", "columns are counted from 1"),
    ):
        bad = [*argv]
        bad[bad.index(option) + 1] = value
        assert main(bad) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow  # importer processes
@pytest.mark.parametrize("workers", [1, 3])
def test_several_processes_write_what_one_would(
    store: Settings, tmp_path: Path, workers: int
) -> None:
    """Each customer's purchases are written by one process in file order, every chain
    verifies, and the report is the one a single process gives."""
    sales = tmp_path / "sales.csv"
    rows = ["order,customer,day,total"] + [
        f"A-{n},C-{n % 7},2025-0{1 + n % 9}-1{n % 10},{n}.25" for n in range(60)
    ]
    rows.insert(20, "A-bad,C-3,someday,1")  # line 21
    sales.write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = PurchaseColumns(
        customer="customer", date="day", amount="total", order="order", currency="EUR"
    )
    seen: list[int] = []
    report = import_purchases(store, sales, columns, workers=workers, progress=seen.append)
    assert (report.lines, report.written, report.events, report.failed) == (61, 67, 67, 1)
    assert [(e.line, e.error.message) for e in report.errors] == [
        (21, "date 'someday' does not match the format '%Y-%m-%d'")
    ]
    assert sum(seen) == 61
    app = Ledger(store)
    for customer in range(7):
        bought = of_type(app.history("customer", f"C-{customer}")[1:], Customer.PurchaseRecorded)
        orders = [e.order_id for e in bought]
        assert orders == [f"A-{n}" for n in range(60) if n % 7 == customer]
    integrity = Integrity(app)
    assert integrity.verify().ok
    integrity.close()
    app.close()
    again = import_purchases(store, sales, columns, workers=workers)
    assert (again.written, again.duplicates, again.failed) == (0, 60 + 7, 1)


def test_the_number_of_processes_is_checked(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*CDNOW, "--workers", "0"])
    assert "--workers: 0 is less than 1" in capsys.readouterr().err
