"""A live API server (uvicorn on a free port) per store, driven over real HTTP with httpx.

One server per store and module; each test writes its own customers (unique refs), so tests
do not see one another's data. The world every test starts from: manager REP-M leads REP-A
and REP-B; REP-C is in another team; one key per role.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from api.deps import Services
from api.main import create_app
from ledger.config import Settings
from tests.conftest import fresh_store

REPS = [("REP-M", None), ("REP-A", "REP-M"), ("REP-B", "REP-M"), ("REP-C", None)]
KEYS = {
    "admin": ("admin", None),
    "manager": ("manager", "REP-M"),
    "rep_a": ("rep", "REP-A"),
    "rep_b": ("rep", "REP-B"),
    "rep_c": ("rep", "REP-C"),
    "compliance": ("compliance", None),
    "analyst": ("analyst", None),
}


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread, until ``stop``."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class Api:
    url: str
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str | None, **headers: str) -> httpx.Client:
        """A client sending the key of ``who`` (a name in KEYS; None: no key)."""
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def key(self, name: str, role: str, rep: str | None = None) -> str:
        return self.services.keys.create(name, role, rep)[1]


def serve(settings: Settings, **options: Any) -> tuple[LiveServer, Services]:
    app = create_app(settings, max_wait=options.pop("max_wait", 5.0), **options)
    server = LiveServer(app)
    return server, app.state.services


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    for settings in fresh_store(request, tmp_path_factory.mktemp("api")):
        server, services = serve(settings)
        found = Api(server.url, services)
        found.tokens["admin"] = found.key("admin", "admin")
        with found.as_("admin") as admin:
            for ref, manager in REPS:
                hired = admin.post(
                    "/reps",
                    json={"ref": ref, "name": f"Rep {ref}", "team": "east", "manager": manager},
                )
                assert hired.status_code == 201, hired.text
        for name, (role, rep) in KEYS.items():
            if name != "admin":
                found.tokens[name] = found.key(name, role, rep)
        yield found
        server.stop()


@contextmanager
def signed_in(api: Api, who: str) -> Iterator[httpx.Client]:
    """A console visitor with a session, as the browser would hold one."""
    with httpx.Client(base_url=api.url, timeout=30) as client:
        reply = client.post("/console/signin", data={"api_key": api.tokens[who]})
        assert reply.status_code == 303, reply.text
        yield client


def new_ref(prefix: str = "CUST") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


OWNERS = {"REP-M": "manager", "REP-A": "rep_a", "REP-B": "rep_b", "REP-C": "rep_c"}


def fresh_customer(api: Api, owner: str = "REP-A", **fields: Any) -> str:
    """A customer owned by ``owner``, registered with their own key (a rep hired by a test:
    with their manager's)."""
    ref = new_ref()
    with api.as_(OWNERS.get(owner, "manager")) as client:
        reply = client.post(
            "/customers",
            json={
                "ref": ref,
                "name": "王伟",
                "owner": owner,
                "email": "wang@example.com",
                **fields,
            },
        )
    assert reply.status_code == 201, reply.text
    return ref


def problem(reply: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an error reply, checked for its status and media type."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["detail"]
    return body


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """For tests that build their own server: which kind of store."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_server")
    kind: str = request.param
    return kind
