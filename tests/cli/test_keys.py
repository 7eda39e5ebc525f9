"""`ledger keys`: a key is printed once, listed without its secret, and revoked for good."""

from __future__ import annotations

import json

import pytest

from api.keys import KeyEnded, KeyStore
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings


def authenticates(store: Settings, token: str) -> bool:
    ledger = Ledger(store)
    try:
        return KeyStore(ledger).authenticate(token) is not None
    except KeyEnded:  # right, and revoked
        return False
    finally:
        ledger.close()


def test_a_key_is_shown_once_and_works_until_revoked(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--name", "ops", "--role", "admin"]) == 0
    printed = capsys.readouterr().out
    token = next(word for word in printed.split() if word.startswith("ldg_"))
    assert "cannot be shown again" in printed
    assert authenticates(store_env, token)
    assert main(["keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["name"], k["role"], k["revoked_at"]) for k in listed] == [("ops", "admin", None)]
    assert token.split("_", 2)[2] not in json.dumps(listed)  # the secret (it may hold "_")
    assert main(["keys", "revoke", "ops"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert not authenticates(store_env, token)


def test_a_key_must_name_a_known_rep_when_its_role_acts_as_one(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--name", "a", "--role", "rep"]) == 2
    assert "needs --rep" in capsys.readouterr().err
    assert main(["keys", "create", "--name", "a", "--role", "rep", "--rep", "REP-9"]) == 1
    assert "no rep with reference 'REP-9'" in capsys.readouterr().err
    assert main(["keys", "create", "--name", "a", "--role", "analyst", "--rep", "REP-9"]) == 2
    assert main(["keys", "revoke", "nobody"]) == 1
    assert "no key named 'nobody'" in capsys.readouterr().err


def test_serve_documents_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    assert "--no-projections" in capsys.readouterr().out
