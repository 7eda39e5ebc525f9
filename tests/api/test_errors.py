"""Every error is a problem document saying what was wrong and where; none writes anything."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from ledger.config import Settings
from tests.api.conftest import Api, fresh_customer, problem, serve
from tests.conftest import POSTGRES_URL, at


def test_invalid_input_names_each_invalid_field(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m:
        reply = m.post(
            f"/customers/{ref}/quotes",
            json={
                "rep": "REP-A",
                "product": "tea",
                "unit_price": "-3",
                "currency": "yen",
                "valid_until": "soon",
            },
        )
        found = problem(reply, 422)
        fields = {e["field"] for e in found["errors"]}
        assert fields == {"body.unit_price", "body.currency", "body.valid_until"}
        assert m.get(f"/customers/{ref}").json()["version"] == 1  # nothing written


def test_a_rule_of_the_ledger_is_named_and_refused_with_409(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("rep_a") as rep:
        made = rep.post(f"/customers/{ref}/promises", json={"text": "call", "due_by": at(900)})
        promise = made.json()["entry_id"]
        assert rep.post(f"/customers/{ref}/promises/{promise}/keep").status_code == 201
        again = problem(rep.post(f"/customers/{ref}/promises/{promise}/keep"), 409)
    assert again["code"] == "entry_closed"
    assert promise in again["detail"]


def test_unknown_references_are_404(api: Api) -> None:
    with api.as_("manager") as m:
        assert problem(m.get("/customers/CUST-nobody"), 404)["code"] == "unknown_reference"
        missing = m.post(
            "/customers/CUST-nobody/contacts",
            json={"rep": "REP-A", "channel": "phone", "direction": "in", "subject": "hello"},
        )
        problem(missing, 404)
        ref = fresh_customer(api)
        problem(m.post(f"/customers/{ref}/quotes/Q-none/accept"), 404)
        problem(m.get("/reps/REP-nobody/dossier"), 404)


def test_a_version_conflict_is_409_and_a_stale_if_match_is_412(api: Api) -> None:
    ref = fresh_customer(api)
    contact = {"rep": "REP-A", "channel": "phone", "direction": "in", "subject": "hi"}
    with api.as_("manager") as m:
        etag = m.get(f"/customers/{ref}").headers["ETag"]
        assert etag == '"1"'
        first = m.post(f"/customers/{ref}/contacts", json=contact, headers={"If-Match": etag})
        assert first.status_code == 201 and first.headers["ETag"] == '"2"'
        stale = problem(
            m.post(f"/customers/{ref}/contacts", json=contact, headers={"If-Match": etag}), 412
        )
        assert stale["where"] == "If-Match"
        conflict = problem(
            m.post(f"/customers/{ref}/contacts", json={**contact, "expected_version": 1}), 409
        )
        assert conflict["code"] == "version_conflict"
        assert m.get(f"/customers/{ref}").json()["version"] == 2


def test_an_oversized_body_is_refused_with_413(api: Api) -> None:
    ref = fresh_customer(api)
    huge = {
        "rep": "REP-A",
        "channel": "phone",
        "direction": "in",
        "subject": "x",
        "summary": "字" * 600_000,
    }
    with api.as_("manager") as m:
        found = problem(m.post(f"/customers/{ref}/contacts", json=huge), 413)
        assert found["where"] == "body"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"rep": "REP-A", "channel": "phone", "direction": "in", "summary": "'
            for _ in range(300):
                yield b"x" * 4096
            yield b'"}'

        streamed = m.post(
            f"/customers/{ref}/contacts",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        problem(streamed, 413)
        assert m.get(f"/customers/{ref}").json()["version"] == 1


def test_a_missing_invalid_or_revoked_key_is_401(api: Api) -> None:
    with api.as_(None) as nobody:
        assert problem(nobody.get("/reps/REP-A/dossier"), 401)["where"] == "Authorization"
    with api.as_(None, Authorization="Bearer ldg_nothing_here") as forged:
        problem(forged.get("/reps/REP-A/dossier"), 401)
    name = f"temp-{uuid.uuid4().hex[:6]}"
    token = api.key(name, "compliance")
    with api.as_(None, Authorization=f"Bearer {token}") as temp:
        assert temp.get("/reps/REP-A/dossier").status_code == 200
        with api.as_("admin") as admin:
            assert admin.post(f"/keys/{name}/revoke").json()["revoked_at"]
        problem(temp.get("/reps/REP-A/dossier"), 401)
    with api.as_(None, **{"X-API-Key": api.tokens["compliance"]}) as by_header:
        assert by_header.get("/reps/REP-A/dossier").status_code == 200


def test_an_unreachable_database_is_503_with_retry_after_and_writes_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, store_kind: str
) -> None:
    if store_kind == "sqlite":
        settings = Settings(data_dir=tmp_path / "var", database_url=None, sqlite_lock_timeout=1)
    else:
        role, schema = f"ledger_{uuid.uuid4().hex[:8]}", f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
        request.addfinalizer(lambda: drop(role, schema))
        settings = Settings(
            database_url=POSTGRES_URL.replace("postgres@", f"{role}@"), database_schema=schema
        )
    server, services = serve(settings, follow=False)
    try:
        token = services.keys.create("ops", "admin")[1]
        hire = {"ref": "REP-Z", "name": "Zed", "team": "x"}
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            assert client.post("/reps", json=hire).status_code == 201
            with unreachable(store_kind, settings, role if store_kind != "sqlite" else ""):
                down = client.post("/reps", json={**hire, "ref": "REP-Y"})
                found = problem(down, 503)
                assert found["code"] == "database_unavailable"
                assert down.headers["Retry-After"].isdigit()
            # Back up (readiness says when): the refused write left nothing behind, so it
            # can be made now.
            assert back_up(client)
            assert client.post("/reps", json={**hire, "ref": "REP-Y"}).status_code == 201
    finally:
        server.stop()


def back_up(client: httpx.Client, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@contextmanager
def unreachable(kind: str, settings: Settings, role: str) -> Iterator[None]:
    """SQLite: another connection holds the write lock. PostgreSQL: the role may no longer
    log in and its connections are cut."""
    if kind == "sqlite":
        lock = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"ALTER ROLE {role} NOLOGIN")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
    try:
        yield
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"ALTER ROLE {role} LOGIN")


def drop(role: str, schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        admin.execute(f"DROP ROLE IF EXISTS {role}")
