"""Every read that shows a customer's personal data is recorded — over HTTP, in the console and
from the command line — once, with who, what and why; a read that cannot be recorded is
refused, never served unrecorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from ledger.access_log import AccessLog, cli_key
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import Database
from tests.api.conftest import LiveServer, serve

REF = "CUST-LOOKED"

pytestmark = pytest.mark.slow  # a live API server for each test


@pytest.fixture
def served(store_env: Settings) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    app = Ledger(store_env)
    app.execute_many(
        [
            parse_command(c)
            for c in (
                {"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t"},
                {
                    "type": "register_customer",
                    "ref": REF,
                    "name": "Margarethe Quistorp",
                    "owner": "REP-1",
                },
                {
                    "type": "make_promise",
                    "customer": REF,
                    "rep": "REP-1",
                    "text": "call back",
                    "due_by": "2030-01-01T00:00:00Z",
                },
            )
        ],
        actor="setup",
    )
    runner = Runner(app, all_views())
    runner.catch_up()
    runner.close()
    app.close()
    server, services = serve(store_env)
    tokens = {
        name: services.keys.create(name, role, rep)[1]
        for name, role, rep in (("auditor", "compliance", None), ("li", "rep", "REP-1"))
    }
    yield server, tokens
    server.stop()


def records(store: Settings, customer: str | None = REF) -> list[dict[str, object]]:
    app = Ledger(store)
    db = Database.of(app)
    try:
        return AccessLog(db, create=False).list(customer=customer, limit=100).items
    finally:
        db.close()
        app.close()


def test_each_read_is_recorded_once_with_its_purpose(
    store_env: Settings,
    served: tuple[LiveServer, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, tokens = served
    with httpx.Client(
        base_url=server.url,
        timeout=30,
        headers={"Authorization": f"Bearer {tokens['li']}", "X-Purpose": "the customer called"},
    ) as c:
        assert c.get(f"/customers/{REF}").status_code == 200
        assert c.get(f"/customers/{REF}/promises").status_code == 200
        assert c.get("/customers/CUST-NOT-HERS").status_code == 404  # refused: not recorded
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as browser:
        signed = browser.post(
            "/console/signin",
            data={
                "api_key": tokens["auditor"],
                "next": f"/console/customers/{REF}",
                "purpose": "quarterly review 审计",
            },
        )
        assert signed.status_code == 200 and "Margarethe Quistorp" in signed.text
        assert "call back" in signed.text  # the open promise, opened for the page
    assert main(["customer", "show", REF, "--purpose", "a letter from her lawyer"]) == 0
    assert "Margarethe Quistorp" in capsys.readouterr().out

    found = records(store_env)
    seen = sorted((r["interface"], r["key"], r["what"], r["purpose"]) for r in found)
    assert seen == [
        ("api", "li", "GET /customers/{ref}", "the customer called"),
        ("api", "li", "GET /customers/{ref}/promises", "the customer called"),
        ("cli", cli_key(), "ledger customer show", "a letter from her lawyer"),
        ("console", "auditor", "GET /console/customers/{ref}", "quarterly review 审计"),
    ]
    assert all(r["customer"] == REF and r["fields"] for r in found)
    with httpx.Client(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {tokens['auditor']}"}
    ) as c:
        listed = c.get("/audit/access", params={"customer": REF}).json()["data"]
    assert len(listed) == 4  # reading the access log is not a read of the customer
    assert main(["verify"]) == 0


def test_a_read_that_cannot_be_recorded_is_refused(
    store_env: Settings, served: tuple[LiveServer, dict[str, str]]
) -> None:
    server, tokens = served
    with (
        refusing_access_log(store_env),
        httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {tokens['li']}"}
        ) as c,
    ):
        refused = c.get(f"/customers/{REF}/promises")
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "access_not_recorded"
        assert "call back" not in refused.text
        assert main(["customer", "show", REF]) == 1
    with httpx.Client(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {tokens['li']}"}
    ) as c:
        assert c.get(f"/customers/{REF}/promises").status_code == 200  # once it can be again


class refusing_access_log:
    """The access log's table refusing every insert (as a full disk would), then not."""

    def __init__(self, store: Settings) -> None:
        self.store = store

    def run(self, *statements: str) -> None:
        if self.store.database_url:
            with psycopg.connect(self.store.database_url, autocommit=True) as conn:
                conn.execute(f'SET search_path TO "{self.store.database_schema}"')
                for sql in statements:
                    conn.execute(sql)
            return
        with sqlite3.connect(self.store.sqlite_path, timeout=30) as conn:
            for sql in statements:
                conn.execute(sql)

    def __enter__(self) -> None:
        if self.store.database_url:
            self.run(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'no space left'; END $$",
                "CREATE TRIGGER refuse BEFORE INSERT ON access_log "
                "FOR EACH ROW EXECUTE FUNCTION refuse()",
            )
        else:
            self.run(
                "CREATE TRIGGER refuse BEFORE INSERT ON access_log "
                "BEGIN SELECT RAISE(ABORT, 'no space left'); END"
            )

    def __exit__(self, *_: object) -> None:
        self.run(
            "DROP TRIGGER refuse ON access_log"
            if self.store.database_url
            else "DROP TRIGGER refuse"
        )


def test_compliance_exports_a_customer_over_http_and_the_export_is_recorded(
    store_env: Settings, served: tuple[LiveServer, dict[str, str]]
) -> None:
    server, tokens = served
    with httpx.Client(base_url=server.url, timeout=30) as c:
        auditor = {"Authorization": f"Bearer {tokens['auditor']}", "X-Purpose": "her request"}
        document = c.get(f"/customers/{REF}/export", headers=auditor)
        assert document.status_code == 200, document.text
        body = document.json()
        assert body["profile"]["name"] == "Margarethe Quistorp"
        assert [e["type"] for e in body["events"]] == ["Registered", "PromiseMade"]
        assert body["log"]["digest"].startswith("ldg1:")
        assert [(a["what"], a["purpose"]) for a in body["accessed_by"]] == [
            ("GET /customers/{ref}/export", "her request")
        ]
        page = c.get(f"/customers/{REF}/export", params={"format": "html"}, headers=auditor)
        assert page.headers["content-type"].startswith("text/html")
        assert "Margarethe Quistorp" in page.text
        rep = {"Authorization": f"Bearer {tokens['li']}"}
        assert c.get(f"/customers/{REF}/export", headers=rep).status_code == 403
        assert c.get("/customers/CUST-NONE/export", headers=auditor).status_code == 404
    assert [r["what"] for r in records(store_env)] == ["GET /customers/{ref}/export"] * 2
