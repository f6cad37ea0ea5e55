"""Schemathesis hooks for the fuzz run (loaded by the schemathesis CLI through SCHEMATHESIS_HOOKS):
the CDF error shape as a check, and gzip bodies sent as the SDK sends them."""

from __future__ import annotations

import gzip
import json
from typing import Any

import schemathesis
from schemathesis.core import NotSet

# The OAuth token endpoint answers RFC 6749's shape for what it refuses itself (400, 401).
OAUTH_TOKEN_PATH = "/oauth2/token"
OAUTH_STATUSES = (400, 401)


@schemathesis.check
def cdf_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx is `{"error": {"code": <the status>, "message": <text>}}` (RFC 6749's
    `{"error": <code>, "error_description": <text>}` from the token endpoint)."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    if case.path == OAUTH_TOKEN_PATH and response.status_code in OAUTH_STATUSES:
        assert isinstance(body.get("error"), str), f"not an RFC 6749 error: {body!r}"
        assert isinstance(body.get("error_description"), str), f"no description: {body!r}"
        return True
    error = body.get("error")
    assert isinstance(error, dict), f"not a CDF error: {body!r}"
    assert error.get("code") == response.status_code, f"code is not the status: {body!r}"
    assert isinstance(error.get("message"), str), f"no message: {body!r}"
    assert error["message"].strip(), f"empty message: {body!r}"
    return True


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A case that says `Content-Encoding: gzip` sends its JSON body compressed."""
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    if headers.get("content-encoding") != "gzip" or isinstance(case.body, NotSet):
        return
    if case.media_type != "application/json":
        return
    try:
        text = json.dumps(case.body)
    except TypeError:  # bytes in a negative case: sent as schemathesis serialises them
        return
    kwargs["json"] = None
    kwargs["data"] = gzip.compress(text.encode())
