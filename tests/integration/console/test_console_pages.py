"""Console pages over a real SQLite file: paging and search of lists, the node a call ran on,
the https-only cookie."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from fnhost.lifecycle import CallState
from fnhost.store import calls as calls_store
from fnhost.store.engine import Tx
from tests.integration.apps import ADMIN_TOKEN, in_process, ready_function

PAGE = {"Accept": "text/html"}
PROJECT = "pages"


def _call_links(html: str, function_id: int) -> list[int]:
    return [int(i) for i in re.findall(rf"/functions/{function_id}/calls/(\d+)\"", html)]


async def test_calls_and_functions_are_paged_and_searched(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        function_id = await ready_function(app, PROJECT, name="paged")
        for name in ("alpha", "beta"):
            await ready_function(app, PROJECT, name=name)

        def store(tx: Tx) -> None:
            for index in range(30):
                state = CallState.FAILED if index % 10 == 0 else CallState.COMPLETED
                calls_store.insert_one(
                    tx,
                    project=PROJECT,
                    function_id=function_id,
                    state=state,
                    start_time=1_000_000 + index,
                    end_time=1_000_100 + index,
                )

        await app.platform.db.run_write(store)
        signed_in = await app.http.post(
            "/console/sign-in", data={"method": "token", "token": ADMIN_TOKEN}
        )
        assert signed_in.status_code == 303
        first = await app.http.get(f"/console/p/{PROJECT}/functions/{function_id}", headers=PAGE)
        assert _call_links(first.text, function_id) == list(range(30, 5, -1))
        older = re.search(r'href="([^"]+cursor=[^"]+)">Older calls', first.text)
        assert older is not None
        rest = await app.http.get(older.group(1).replace("&amp;", "&"), headers=PAGE)
        assert _call_links(rest.text, function_id) == list(range(5, 0, -1))
        assert "Older calls" not in rest.text
        failed = await app.http.get(
            f"/console/p/{PROJECT}/functions/{function_id}?status=Failed", headers=PAGE
        )
        assert _call_links(failed.text, function_id) == [21, 11, 1]

        found = await app.http.get(f"/console/p/{PROJECT}/functions?q=ALP", headers=PAGE)
        assert ">alpha</a>" in found.text and ">beta</a>" not in found.text
        assert (
            "No function matches"
            in (await app.http.get(f"/console/p/{PROJECT}/functions?q=zzz", headers=PAGE)).text
        )


async def test_a_calls_page_shows_the_node_it_ran_on(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        function_id = await ready_function(app, PROJECT)

        def store(tx: Tx) -> list[int]:
            ids = []
            for node in ("node-7f3a", None):
                call = calls_store.insert_one(
                    tx,
                    project=PROJECT,
                    function_id=function_id,
                    state=CallState.RUNNING,
                    start_time=1_000_000,
                    claimed_by="dispatcher",
                )
                if node is not None:
                    calls_store.hand_over(
                        tx, call_id=call.id, claimant="dispatcher", instance="inst", node=node
                    )
                ids.append(call.id)
            return ids

        on_ray, here = await app.platform.db.run_write(store)
        await app.http.post("/console/sign-in", data={"method": "token", "token": ADMIN_TOKEN})
        base = f"/console/p/{PROJECT}/functions/{function_id}/calls"
        shown = await app.http.get(f"{base}/{on_ray}", headers=PAGE)
        assert '<dt>Node</dt><dd><code id="call-node">node-7f3a</code>' in shown.text
        assert "<dt>Node</dt>" not in (await app.http.get(f"{base}/{here}", headers=PAGE)).text


async def test_the_session_cookie_is_secure_when_the_request_is_https(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app.app), base_url="https://testserver"
        ) as https:
            signed_in = await https.post(
                "/console/sign-in", data={"method": "token", "token": ADMIN_TOKEN}
            )
        cookie = signed_in.headers["set-cookie"].lower()
        assert "; secure" in cookie and "; httponly" in cookie and "samesite=strict" in cookie
