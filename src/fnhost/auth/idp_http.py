"""Requests to an identity provider (its published keys, its token endpoint): JSON over HTTP,
off the event loop."""

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any


def _fetch(request: urllib.request.Request, timeout: float) -> Any:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        error.close()  # it holds the connection; its status stays readable
        raise


async def fetch_json(request: urllib.request.Request, *, timeout_seconds: float) -> Any:
    """The JSON answer to `request`; urllib's errors (HTTPError, OSError) and ValueError raise."""
    return await asyncio.to_thread(_fetch, request, timeout_seconds)
