"""Console sign-in sessions over a real SQLite file: what is stored, idle and absolute expiry,
revocation ending access at once, bad input refused with nothing changed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from fnhost import clock
from fnhost.console.security import CONTENT_SECURITY_POLICY
from fnhost.services import tokens as tokens_service
from tests.integration.apps import ADMIN_TOKEN, InProcess, in_process, ready_function

COOKIE = "fnhost_console"
PAGE = {"Accept": "text/html"}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def sign_in(app: InProcess, token: str = ADMIN_TOKEN) -> str:
    """Sign in through the form; the session key the browser got."""
    answer = await app.http.post("/console/sign-in", data={"method": "token", "token": token})
    assert answer.status_code == 303, answer.text
    return answer.cookies[COOKIE]


async def page(app: InProcess, path: str) -> httpx.Response:
    return await app.http.get(path, headers=PAGE)


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


async def test_the_browser_holds_a_random_key_the_database_its_hash_and_a_sealed_credential(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path) as app:
        key = await sign_in(app)
        (row,) = await app.platform.db.run_read(
            lambda tx: tx.execute(text("SELECT * FROM console_sessions")).all()
        )
        assert row.id_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in str(tuple(row)) and ADMIN_TOKEN not in str(tuple(row))
        assert app.platform.secrets_box.open(row.credential_sealed)["token"] == ADMIN_TOKEN
        # The API's bearer header is no way into the console: only the session cookie is.
        app.http.cookies.clear()
        answer = await page(app, "/console/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2F"


async def test_a_session_ends_when_idle_and_at_its_absolute_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with in_process(
        tmp_path, console_session_idle_minutes=60, console_session_max_hours=12
    ) as app:
        at(monkeypatch, START)
        await sign_in(app)
        # Used every 50 minutes, it lives until its 12 hours are up, then no longer.
        for step in range(1, 15):
            at(monkeypatch, START + timedelta(minutes=50 * step))
            expected = 200 if 50 * step < 12 * 60 else 303
            assert (await page(app, "/console/")).status_code == expected, step
        at(monkeypatch, START + timedelta(days=1))
        await sign_in(app)
        at(monkeypatch, START + timedelta(days=1, minutes=59))
        assert (await page(app, "/console/")).status_code == 200
        at(monkeypatch, START + timedelta(days=1, minutes=59 + 61))
        assert (await page(app, "/console/")).status_code == 303
        left = await app.platform.db.run_read(
            lambda tx: tx.execute(text("SELECT count(*) FROM console_sessions")).scalar()
        )
        assert left == 0  # ended sessions are deleted


async def test_revoking_the_token_ends_its_console_session_at_once(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        token = await tokens_service.issue(
            app.platform,
            subject="reader",
            projects=["p"],
            capabilities_=["functionsAcl:READ"],
            expires_in=None,
        )
        await sign_in(app, token)
        assert (await page(app, "/console/p/p/functions")).status_code == 200
        (issued,) = await tokens_service.list_issued(app.platform)
        await tokens_service.revoke_issued(app.platform, token_id=issued.id)
        answer = await page(app, "/console/p/p/functions")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/sign-in")


async def test_every_console_response_carries_a_strict_content_security_policy(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path) as app:
        for path in ("/console/sign-in", "/console/static/console.js", "/console/nowhere"):
            answer = await app.http.get(path)
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
            assert answer.headers["x-frame-options"] == "DENY"
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        assert (await app.http.get("/")).headers["location"] == "/console/"


async def test_bad_input_is_refused_with_a_message_and_changes_nothing(tmp_path: Path) -> None:
    async with in_process(tmp_path, upload_max_bytes=4096) as app:
        function_id = await ready_function(app, "p")
        await sign_in(app)
        function_page = await page(app, f"/console/p/p/functions/{function_id}")
        csrf = function_page.text.split('name="csrf_token" value="')[1].split('"')[0]
        before = await app.snapshot()
        base = f"/console/p/p/functions/{function_id}"
        refused = {
            f"{base}/run": ({"data": '{"x": '}, 400, "is not valid JSON"),
            f"{base}/schedules": (
                {"name": "s", "cron_expression": "* * 31 2 * *"},
                400,
                "cronExpression",
            ),
            f"{base}/schedules#data": (
                {"name": "s", "cron_expression": "* * * * *", "data": "[1]"},
                400,
                "data",
            ),
            "/console/p/p/functions/999/run": ({"data": "{}"}, 404, "Function not found"),
        }
        for path, (form, status, message) in refused.items():
            answer = await app.http.post(
                path.split("#")[0], data={"csrf_token": csrf, **form}, headers=PAGE
            )
            assert (answer.status_code, message in answer.text) == (status, True), path
        for path, status in {
            "/console/p/p/functions/abc": 400,
            "/console/p/p/functions/999": 404,
            "/console/p/p/runs?window=1y": 400,
            "/console/p/p/runs?status=Sleeping": 400,
            "/console/p/p/functions?cursor=%%%": 400,
        }.items():
            assert (await page(app, path)).status_code == status, path
        uploads = {
            "big.zip": (b"x" * 10_000, 413, "FNHOST_UPLOAD_MAX_BYTES"),
            "code.zip": (b"not a zip", 400, "code.zip is not a valid zip archive"),
            "notes.txt": (b"hello", 400, "neither a .zip"),
            "handler.py": (b"def handle(data):\n    return 1\n", 400, "CPU must be a number"),
        }
        for name, (content, status, message) in uploads.items():
            answer = await app.http.post(
                "/console/p/p/deploy",
                data={"csrf_token": csrf, "name": "f", "cpu": "lots" if ".py" in name else ""},
                files={"code": (name, content)},
                headers=PAGE,
            )
            assert (answer.status_code, message in answer.text) == (status, True), name
        assert await app.snapshot() == before
