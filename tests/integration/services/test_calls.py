"""Calls: POST .../call holds its answer until the call ends, within FNHOST_CALL_WAIT_MS."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from fnhost import clock
from fnhost.lifecycle import CallEnd
from fnhost.schemas.calls import CallCreate
from fnhost.services import calls as calls_service
from fnhost.services import dispatch as dispatch_service
from fnhost.services import endings, identity
from fnhost.services.jobs import CallJob
from tests.integration.apps import (
    ADMIN_TOKEN,
    InProcess,
    in_process,
    ready_function,
    upload_code,
)

PROJECT = "calls"
BASE = f"/api/v1/projects/{PROJECT}"


class _Dispatcher:
    """A stand-in for this process's dispatcher, connected to `app`'s notifier: `free` slots
    for calls straight from their request; started calls, and calls claimed when woken for a
    queued one, end as `end` says (completed by default), when they end. `woken` counts the
    wake-ups."""

    claimant = "local-dispatcher"

    def __init__(
        self, app: InProcess, *, free: int = 0, end: CallEnd | None = None, claims: bool = False
    ) -> None:
        self.app, self.free, self.claims = app, free, claims
        self._end = end or CallEnd.completed("2", at=0)
        self.started: list[int] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.woken = 0
        app.platform.notifier.connect(dispatcher=self)

    def wake(self) -> None:
        self.woken += 1
        if self.claims:
            self.tasks.append(asyncio.create_task(self._claim_one()))

    def function_ready(self, function_id: int) -> None:
        pass

    def reserve(self) -> bool:
        if self.free <= 0:
            return False
        self.free -= 1
        return True

    def release(self) -> None:
        self.free += 1

    def start(self, job: CallJob) -> None:
        self.started.append(job.call_id)
        self.tasks.append(asyncio.create_task(self._finish(job)))

    async def _claim_one(self) -> None:
        (job,) = await dispatch_service.claim(self.app.platform, limit=1, claimant="test")
        await self._end_now(job)

    async def _finish(self, job: CallJob) -> None:
        await self._end_now(job)
        self.free += 1

    async def _end_now(self, job: CallJob) -> None:
        end = dataclasses.replace(self._end, end_time=clock.now_ms())
        await endings.end(self.app.platform, call_ids=[job.call_id], end=end)


async def _call(app: InProcess, function_id: int) -> dict[str, Any]:
    response = await app.http.post(f"{BASE}/functions/{function_id}/call", json={"data": {}})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_call_that_ends_within_the_wait_comes_back_completed(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=30_000) as app:
        function_id = await ready_function(app, PROJECT)
        _Dispatcher(app, claims=True)

        call = await _call(app, function_id)

        assert call["status"] == "Completed"
        assert call["endTime"] >= call["startTime"]
        polled = await app.http.post(
            f"{BASE}/functions/{function_id}/calls/byids", json={"items": [{"id": call["id"]}]}
        )
        assert polled.json()["items"][0] == call
        assert app.platform.call_events.watched == 0


async def test_failed_call_comes_back_with_its_error(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=30_000) as app:
        function_id = await ready_function(app, PROJECT)
        failed = CallEnd.failed("ValueError: bad", trace="Traceback", at=0)
        _Dispatcher(app, end=failed, claims=True)

        call = await _call(app, function_id)

        assert call["status"] == "Failed"
        assert call["error"] == {"message": "ValueError: bad", "trace": "Traceback"}


@pytest.mark.parametrize("wait_ms", [0, 20])
async def test_call_still_running_after_the_wait_comes_back_running(
    tmp_path: Path, wait_ms: int
) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=wait_ms) as app:
        function_id = await ready_function(app, PROJECT)  # no dispatcher: the call never ends

        call = await _call(app, function_id)

        assert call["status"] == "Running"
        assert "endTime" not in call
        assert app.platform.call_events.watched == 0


async def test_call_with_a_free_slot_starts_at_once_without_a_claim(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=30_000) as app:
        function_id = await ready_function(app, PROJECT)
        starter = _Dispatcher(app, free=1)

        call = await _call(app, function_id)

        assert call["status"] == "Completed"
        assert starter.started == [call["id"]]
        assert starter.woken == 0  # nothing was queued
        assert starter.free == 1
        response = await app.http.get(f"{BASE}/functions/{function_id}/calls/{call['id']}/response")
        assert response.json()["response"] == 2


async def test_call_without_a_free_slot_is_queued_for_the_dispatcher(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=0) as app:
        function_id = await ready_function(app, PROJECT)
        starter = _Dispatcher(app, free=0)

        call = await _call(app, function_id)

        assert call["status"] == "Running"
        assert starter.started == []
        assert starter.woken == 1
        (job,) = await dispatch_service.claim(app.platform, limit=1, claimant="other")
        assert job.call_id == call["id"]


async def test_call_of_a_function_not_ready_gives_its_reserved_slot_back(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=0) as app:
        file_id = await upload_code(app, PROJECT)
        created = await app.http.post(
            f"{BASE}/functions", json={"items": [{"name": "f", "fileId": file_id}]}
        )
        function_id = created.json()["items"][0]["id"]  # still Queued: nothing builds here
        starter = _Dispatcher(app, free=1)

        call = await _call(app, function_id)

        assert call["status"] == "Running"
        assert starter.started == []
        assert starter.free == 1


async def test_unknown_nonce_gives_the_reserved_slot_back_and_stores_nothing(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "data") as app:
        function_id = await ready_function(app, PROJECT)
        starter = _Dispatcher(app, free=1)

        response = await app.http.post(
            f"{BASE}/functions/{function_id}/call", json={"data": {}, "nonce": "unknown"}
        )

        assert response.status_code == 400
        assert starter.free == 1 and starter.started == []
        listed = await app.http.post(f"{BASE}/functions/{function_id}/calls/list", json={})
        assert listed.json()["items"] == []


async def test_a_request_cancelled_while_its_call_is_stored_still_starts_the_call(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "data") as app:
        function_id = await ready_function(app, PROJECT)
        starter = _Dispatcher(app, free=1)
        principal = await identity.authenticate(app.platform, ADMIN_TOKEN)
        turn = app.platform.db._write_turn
        assert turn is not None
        async with turn:  # the call's write waits for its turn: cancel the request meanwhile
            request = asyncio.create_task(
                calls_service.create(
                    app.platform,
                    project=PROJECT,
                    function_id=function_id,
                    principal=principal,
                    body=CallCreate(data={}),
                )
            )
            await asyncio.sleep(0.05)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        await asyncio.sleep(0.05)  # the write goes on without the request, then the call starts

        (call_id,) = starter.started
        await asyncio.gather(*starter.tasks)
        call = await app.http.get(f"{BASE}/functions/{function_id}/calls/{call_id}")
        assert call.json()["status"] == "Completed"
        assert starter.free == 1


@pytest.mark.parametrize("free_slots", [1, 0])
async def test_a_call_whose_secrets_cannot_be_opened_fails_saying_so(
    tmp_path: Path, free_slots: int
) -> None:
    async with in_process(tmp_path / "data") as app:
        function_id = await ready_function(app, PROJECT, secrets={"api-key": "s3cret"})
    # The server starts again with another key: the function's secrets no longer open.
    another_key = Fernet.generate_key().decode()
    async with in_process(tmp_path / "data", call_wait_ms=0, secret_key=another_key) as app:
        starter = _Dispatcher(app, free=free_slots)

        call = await _call(app, function_id)
        if free_slots == 0:  # queued: the dispatcher's claim ends it instead of starting it
            assert await dispatch_service.claim(app.platform, limit=1, claimant="other") == []

        ended = await app.http.get(f"{BASE}/functions/{function_id}/calls/{call['id']}")
        assert ended.json()["status"] == "Failed"
        assert "sealed with another key" in ended.json()["error"]["message"]
        assert starter.started == [] and starter.free == free_slots


async def test_where_calls_ran_is_fnhosts_own_and_refuses_unknown_calls(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=0) as app:
        function_id = await ready_function(app, PROJECT)
        call = await _call(app, function_id)
        nodes = f"{BASE}/functions/{function_id}/calls/nodes"

        found = await app.http.post(nodes, json={"items": [{"id": call["id"]}]})
        assert found.json() == {"items": [{"id": call["id"], "node": None}]}  # not on Ray
        assert "node" not in call  # nor ever in the CDF call object

        unknown = await app.http.post(nodes, json={"items": [{"id": call["id"]}, {"id": 999}]})
        assert unknown.status_code == 400  # as CDF says of unknown items
        assert unknown.json()["error"]["missing"] == [{"id": 999}]
        ignored = await app.http.post(
            nodes, json={"items": [{"id": 999}, {"id": call["id"]}], "ignoreUnknownIds": True}
        )
        assert [item["id"] for item in ignored.json()["items"]] == [call["id"]]
        empty = await app.http.post(nodes, json={"items": []})
        assert empty.status_code == 400
