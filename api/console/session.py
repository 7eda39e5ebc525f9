"""The console's sessions: signing in with an API key opens a session, a cookie that names the
key and when the session ends, signed with a secret of the deployment. The cookie is HttpOnly
and SameSite=Strict; every form carries a token derived from it (``csrf_token``) that a page
of another site cannot know. A revoked key ends its sessions at once; signing out deletes
the cookie (a copy of it stays valid until it expires: 8 hours).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from api.keys import ApiKey, KeyStore

COOKIE = "ledger_session"
LIFETIME = 8 * 3600  # seconds


def open_session(keys: KeyStore, key: ApiKey) -> str:
    body = f"{key.id}.{int(time.time()) + LIFETIME}"
    return f"{body}.{sign(keys.session_key, body)}"


def session_key(keys: KeyStore, cookie: str | None) -> ApiKey | None:
    """The live key of a valid, unexpired session cookie; None otherwise."""
    key_id, _, rest = (cookie or "").partition(".")
    expires, _, signature = rest.partition(".")
    if not (key_id and expires.isdigit() and signature):
        return None
    if not hmac.compare_digest(signature, sign(keys.session_key, f"{key_id}.{expires}")):
        return None
    if int(expires) < time.time():
        return None
    return keys.live(key_id)


def csrf_token(keys: KeyStore, cookie: str) -> str:
    return sign(keys.session_key, f"csrf.{cookie}")


def csrf_ok(keys: KeyStore, cookie: str | None, token: str | None) -> bool:
    return bool(cookie and token) and hmac.compare_digest(
        csrf_token(keys, cookie or ""), token or ""
    )


def sign(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
