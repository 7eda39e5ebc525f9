"""`ledger serve` as its own process: it answers, follows new events, and stops cleanly on
SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from api.keys import KeyStore
from ledger.application import Ledger
from ledger.config import Settings

pytestmark = pytest.mark.slow  # `ledger serve` runs as a process of its own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_answers_and_stops_cleanly_on_sigterm(store_env: Settings) -> None:
    ledger = Ledger(store_env)
    keys = KeyStore(ledger)
    admin, compliance = (keys.create(role, role)[1] for role in ("admin", "compliance"))
    ledger.close()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli.main",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=os.environ.copy(),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "ledger serve did not start"
                time.sleep(0.1)
        hired = httpx.post(
            f"{url}/reps",
            json={"ref": "REP-1", "name": "Li Na", "team": "east"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert hired.status_code == 201
        dossier = httpx.get(
            f"{url}/reps/REP-1/dossier",
            params={"min_position": hired.json()["position"]},
            headers={"Authorization": f"Bearer {compliance}"},
            timeout=30,
        )
        assert dossier.json()["rep"]["name"] == "Li Na"  # the in-process runner followed
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
