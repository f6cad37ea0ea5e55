"""Tokens of running calls: signed, not stored, so starting and ending a call writes no token.

`fnc1:<call id>:<session id>:<expires ms>:<HMAC-SHA256>`. The signature proves fnhost minted
it; whoever accepts one must still check that the call runs and its session is usable, which
is what makes revoking the session (or the call ending) take effect at once.
"""

import hashlib
import hmac
from dataclasses import dataclass

PREFIX = "fnc1"


@dataclass(frozen=True)
class CallToken:
    call_id: int
    session_id: int
    expires_ms: int


def _signature(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def mint(key: bytes, *, call_id: int, session_id: int, expires_ms: int) -> str:
    payload = f"{PREFIX}:{call_id}:{session_id}:{expires_ms}"
    return f"{payload}:{_signature(key, payload)}"


def is_call_token(token: str) -> bool:
    return token.startswith(PREFIX + ":")


def verify(key: bytes, token: str, *, now_ms: int) -> CallToken | None:
    """The token's claims when its signature is right and it has not expired, else None."""
    payload, _, signature = token.rpartition(":")
    if not hmac.compare_digest(_signature(key, payload), signature):
        return None
    try:
        prefix, call_id, session_id, expires_ms = payload.split(":")
        claims = CallToken(int(call_id), int(session_id), int(expires_ms))
    except ValueError:
        return None
    if prefix != PREFIX or claims.expires_ms <= now_ms:
        return None
    return claims
