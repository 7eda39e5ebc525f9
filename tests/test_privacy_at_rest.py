"""No personal data in the clear reaches the database: the raw files the database writes —
SQLite's file, its -wal and -shm; PostgreSQL's relation files and its write-ahead log, after a
checkpoint — hold none of a customer's personal markers, whether they came in through
`ledger import`, `ledger import-customers`, the HTTP API with Idempotency-Keys or the
console; not before `forget` (only ciphertext and keyed hashes were ever written), not after
it, a rebuild and a replay.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from replay.core import Reading, Replay
from tests.api.conftest import serve
from tests.conftest import at


def markers(tag: str, who: str) -> dict[str, str]:
    """One customer's personal data and free text, each value unique to this test run."""
    digits = str(int(tag, 16))[-9:]
    return {
        "name": f"Quistorp{who}{tag}",
        "email": f"q{who}{tag}@example.org",
        "email2": f"r{who}{tag}@example.net",
        "phone": f"+49 40 {digits}",
        "address": f"Elbchaussee {who}{tag}",
        "company": f"Quistorp{who}{tag} GmbH",
        "title": f"Einkaufsleiter{who}{tag}",
        "subject": f"subject {who}{tag}",
        "summary": f"asked {who}{tag} for the catalogue",
        "request": f"please call {who}{tag}",
        "promise": f"send samples to {who}{tag}",
        "complaint": f"arrived broken {who}{tag}",
        "resolution": f"replaced {who}{tag}",
        "correction": f"corrected {who}{tag}",
        "retraction": f"duplicate of {who}{tag}",
    }


def story(ref: str, m: dict[str, str], rep: str) -> list[dict[str, Any]]:
    """Commands that put every marker of ``m`` into the customer's record."""
    return [
        {
            "type": "register_customer",
            "ref": ref,
            "name": m["name"],
            "email": m["email"],
            "phone": m["phone"],
            "address": m["address"],
            "company": m["company"],
            "owner": rep,
        },
        {"type": "update_profile", "customer": ref, "email": m["email2"]},
        {
            "type": "log_contact",
            "customer": ref,
            "rep": rep,
            "channel": "phone",
            "direction": "in",
            "subject": m["subject"],
            "summary": m["summary"],
            "contact_id": f"{ref}-K1",
            "occurred_at": at(1),
        },
        {
            "type": "log_contact",
            "customer": ref,
            "rep": rep,
            "channel": "email",
            "direction": "out",
            "subject": "again",
            "contact_id": f"{ref}-K2",
            "occurred_at": at(2),
        },
        {
            "type": "receive_request",
            "customer": ref,
            "kind": "callback",
            "channel": "email",
            "respond_by": at(900),
            "summary": m["request"],
            "rep": rep,
            "request_id": f"{ref}-R1",
            "occurred_at": at(1),
        },
        {
            "type": "make_promise",
            "customer": ref,
            "rep": rep,
            "text": m["promise"],
            "due_by": at(900),
            "promise_id": f"{ref}-P1",
            "occurred_at": at(1),
        },
        {
            "type": "file_complaint",
            "customer": ref,
            "category": "delivery",
            "severity": "low",
            "description": m["complaint"],
            "rep": rep,
            "complaint_id": f"{ref}-C1",
            "occurred_at": at(1),
        },
        {
            "type": "resolve_complaint",
            "customer": ref,
            "complaint_id": f"{ref}-C1",
            "resolution": m["resolution"],
            "satisfied": True,
            "occurred_at": at(3),
        },
        {
            "type": "correct_entry",
            "customer": ref,
            "entry_id": f"{ref}-K1",
            "fields": {"summary": m["correction"]},
            "reason": "typo",
        },
        {
            "type": "retract_entry",
            "customer": ref,
            "entry_id": f"{ref}-K2",
            "reason": m["retraction"],
        },
        {
            "type": "record_purchase",
            "customer": ref,
            "order_id": f"{ref}-O1",
            "amount": "250.00",
            "currency": "EUR",
            "occurred_at": at(4),
        },
    ]


ROUTES = {  # command type -> (method, path below /customers/{ref}, body fields dropped)
    "update_profile": ("PATCH", "", {"customer"}),
    "log_contact": ("POST", "/contacts", {"customer"}),
    "receive_request": ("POST", "/requests", {"customer"}),
    "make_promise": ("POST", "/promises", {"customer"}),
    "file_complaint": ("POST", "/complaints", {"customer"}),
    "correct_entry": ("POST", "/corrections", {"customer"}),
    "retract_entry": ("POST", "/retractions", {"customer"}),
    "record_purchase": ("POST", "/purchases", {"customer"}),
}


def through_http(client: httpx.Client, ref: str, commands: list[dict[str, Any]]) -> None:
    """Each command through its endpoint with an Idempotency-Key, sent twice (a retry)."""
    for n, command in enumerate(commands):
        kind = command.pop("type")
        if kind == "register_customer":
            method, path = "POST", "/customers"
        elif kind == "resolve_complaint":
            method, path = "POST", f"/customers/{ref}/complaints/{command['complaint_id']}/resolve"
            command.pop("complaint_id")
        else:
            method, suffix, _ = ROUTES[kind]
            path = f"/customers/{ref}{suffix}"
        command.pop("customer", None)
        for _ in range(2):
            reply = client.request(
                method, path, json=command, headers={"Idempotency-Key": f"{ref}-{n}"}
            )
            assert reply.status_code in (200, 201), (kind, reply.text)


def through_console(url: str, token: str, rep: str, ref: str, reason: str) -> None:
    """The console's hand-over form, as a browser sends it: signed in, with its token."""
    with httpx.Client(base_url=url, follow_redirects=True, timeout=30) as browser:
        signed = browser.post("/console/signin", data={"api_key": token, "next": "/console"})
        assert signed.status_code == 200, signed.text
        form = browser.get(f"/console/reps/{rep}/handover").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        moved = browser.post(
            f"/console/reps/{rep}/handover",
            data={"csrf": csrf.group(1), "customers": ref, "new_owner": "REP-2", "reason": reason},
        )
        assert moved.status_code == 200 and "Handed over to REP-2" in moved.text, moved.text


def raw_files(store: Settings) -> Iterator[Path]:
    """The files the database writes: SQLite's three; PostgreSQL's relation files of the test
    database and its write-ahead log, after a checkpoint has flushed every page."""
    if not store.database_url:
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{store.sqlite_path}{suffix}")
            if path.exists():
                yield path
        return
    with psycopg.connect(store.database_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        folder = Path(str(conn.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
        database = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).fetchone()[0]  # type: ignore[index]
    for part in (folder / "base" / str(database), folder / "pg_wal"):
        yield from (path for path in part.iterdir() if path.is_file())


def found_in(files: Iterator[Path], secrets: list[str]) -> set[str]:
    wanted = {secret: secret.encode() for secret in secrets}
    found: set[str] = set()
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # another test's table, dropped meanwhile
            continue
        found.update(secret for secret, raw in wanted.items() if raw in data)
    return found


@pytest.fixture
def team(store_env: Settings) -> Settings:
    """Manager REP-M and their reps REP-1 and REP-2."""
    app = Ledger(store_env)
    app.execute_many(
        [
            parse_command(c)
            for c in (
                {"type": "hire_rep", "ref": "REP-M", "name": "Manager", "team": "t"},
                {"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t", "manager": "REP-M"},
                {"type": "hire_rep", "ref": "REP-2", "name": "Wu", "team": "t", "manager": "REP-M"},
            )
        ],
        actor="setup",
    )
    app.close()
    return store_env


@pytest.mark.slow  # every way in, then every file of the store read
def test_no_personal_marker_is_ever_written_in_the_clear(
    team: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:10]
    imported, posted, handed = (f"CUST-{who}{tag}" for who in "IHC")
    by_import, by_http, by_console = markers(tag, "i"), markers(tag, "h"), markers(tag, "c")
    console_reason = f"hand-over of {tag} after her call"
    secrets = [*by_import.values(), *by_http.values(), *by_console.values(), console_reason]

    lines = tmp_path / "import.jsonl"
    lines.write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in story(imported, by_import, "REP-1"))
        + "\n"
    )
    assert main(["import", str(lines)]) == 0
    by_cards = markers(tag, "k")
    secrets += [by_cards[f] for f in ("name", "email", "phone", "address", "company", "title")]
    cards = tmp_path / "cards.csv"
    cards.write_text(
        "姓名,公司,职位,手机,邮箱,地址,负责人\n"
        + ",".join(by_cards[f] for f in ("name", "company", "title", "phone", "email", "address"))
        + ",REP-1\n",
        encoding="utf-8",
    )
    assert main(["import-customers", str(cards), "--source", "expo"]) == 0

    server, services = serve(team)
    try:
        tokens = {
            name: services.keys.create(f"{name}-{tag}", role, rep)[1]
            for name, role, rep in (
                ("manager", "manager", "REP-M"),
                ("compliance", "compliance", None),
            )
        }
        with httpx.Client(
            base_url=server.url,
            timeout=30,
            headers={"Authorization": f"Bearer {tokens['manager']}"},
        ) as client:
            through_http(client, posted, story(posted, by_http, "REP-1"))
            through_http(client, handed, story(handed, by_console, "REP-1"))
            left = client.post("/reps/REP-1/departure", json={"reason": "moved abroad"})
            assert left.status_code == 201, left.text
        through_console(server.url, tokens["manager"], "REP-1", handed, console_reason)
        with httpx.Client(
            base_url=server.url,
            timeout=30,
            headers={"Authorization": f"Bearer {tokens['compliance']}"},
        ) as client:
            shown = client.get(f"/customers/{posted}/timeline")
            assert by_http["correction"] in shown.text  # a page opens what it shows
            before = found_in(raw_files(team), [*secrets, f"manager-{tag}"])
            # (a key's name is stored as it is: the search does read where the data lands)
            assert before == {f"manager-{tag}"}, f"written in the clear: {sorted(before)}"
            erased = client.post(f"/customers/{posted}/erasure", json={"reason": "asked"})
            assert erased.status_code == 201, erased.text
    finally:
        server.stop()
    assert main(["forget", imported, "--reason", "asked to be forgotten"]) == 0
    assert main(["forget", handed, "--reason", "asked to be forgotten"]) == 0
    assert main(["projections", "rebuild"]) == 0
    app = Ledger(team)
    replayed = tmp_path / "replay.sqlite"
    with Replay(app, all_views(), Reading(), out=replayed) as replay:
        replay.run()
    for ref in (imported, posted, handed):
        assert app.customer(ref).erased
    runner = Runner(app, all_views())
    runner.catch_up()
    runner.close()
    app.close()
    capsys.readouterr()
    after = found_in(iter([*raw_files(team), replayed]), secrets)
    assert not after, f"left in the clear: {sorted(after)}"
