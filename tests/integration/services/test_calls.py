"""Calls: POST .../call holds its answer until the call ends, within FNHOST_CALL_WAIT_MS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from fnhost.auth.secrets_box import SecretsBox
from fnhost.schemas.calls import CallCreate
from fnhost.services import calls as calls_service
from fnhost.services import dispatch as dispatch_service
from fnhost.services import tokens as tokens_service
from fnhost.services.dispatch import Outcome
from tests.integration.apps import (
    ADMIN_TOKEN,
    InProcess,
    in_process,
    ready_function,
    upload_code,
)

PROJECT = "calls"
BASE = f"/api/v1/projects/{PROJECT}"


def _dispatch_with(app: InProcess, outcome: Outcome) -> Callable[[], None]:
    """A stand-in for the dispatcher: each wake-up claims the queued call and ends it so."""
    tasks: list[asyncio.Task[None]] = []

    async def run_one() -> None:
        (job,) = await dispatch_service.claim(app.platform, limit=1, claimant="test")
        await dispatch_service.finish(app.platform, call_id=job.call_id, outcome=outcome)

    return lambda: tasks.append(asyncio.create_task(run_one()))


async def _call(app: InProcess, function_id: int) -> dict[str, Any]:
    response = await app.http.post(f"{BASE}/functions/{function_id}/call", json={"data": {}})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_call_that_ends_within_the_wait_comes_back_completed(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=30_000) as app:
        function_id = await ready_function(app, PROJECT)
        app.platform.wake_dispatcher = _dispatch_with(app, Outcome("completed", response="2"))

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
        failed = Outcome("failed", error_message="ValueError: bad", error_trace="Traceback")
        app.platform.wake_dispatcher = _dispatch_with(app, failed)

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


class _Starter:
    """A stand-in for this process's dispatcher, installed in `app`: `free` slots; started jobs
    end completed; `woken` counts wake-ups for queued calls."""

    claimant = "local-dispatcher"

    def __init__(self, app: InProcess, *, free: int) -> None:
        self.app, self.free = app, free
        self.started: list[int] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.woken = 0
        app.platform.call_starter = self
        app.platform.wake_dispatcher = self._wake

    def _wake(self) -> None:
        self.woken += 1

    def reserve(self) -> bool:
        if self.free <= 0:
            return False
        self.free -= 1
        return True

    def release(self) -> None:
        self.free += 1

    def start(self, job: dispatch_service.CallJob) -> None:
        self.started.append(job.call_id)
        self.tasks.append(asyncio.create_task(self._finish(job)))

    async def _finish(self, job: dispatch_service.CallJob) -> None:
        outcome = Outcome("completed", response="2")
        await dispatch_service.finish(self.app.platform, call_id=job.call_id, outcome=outcome)
        self.free += 1


async def test_call_with_a_free_slot_starts_at_once_without_a_claim(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=30_000) as app:
        function_id = await ready_function(app, PROJECT)
        starter = _Starter(app, free=1)

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
        starter = _Starter(app, free=0)

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
        starter = _Starter(app, free=1)

        call = await _call(app, function_id)

        assert call["status"] == "Running"
        assert starter.started == []
        assert starter.free == 1


async def test_unknown_nonce_gives_the_reserved_slot_back_and_stores_nothing(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path / "data") as app:
        function_id = await ready_function(app, PROJECT)
        starter = _Starter(app, free=1)

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
        starter = _Starter(app, free=1)
        principal = await tokens_service.authenticate(app.platform, ADMIN_TOKEN)
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
                    hold=True,
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


async def _function_with_secrets_of_another_key(app: InProcess) -> int:
    """A Ready function whose secrets this server's key can no longer open (the key changed)."""
    function_id = await ready_function(app, PROJECT, secrets={"api-key": "s3cret"})
    app.platform.secrets_box = SecretsBox(Fernet.generate_key())
    return function_id


@pytest.mark.parametrize("free_slots", [1, 0])
async def test_a_call_whose_secrets_cannot_be_opened_fails_saying_so(
    tmp_path: Path, free_slots: int
) -> None:
    async with in_process(tmp_path / "data", call_wait_ms=0) as app:
        function_id = await _function_with_secrets_of_another_key(app)
        starter = _Starter(app, free=free_slots)

        call = await _call(app, function_id)
        if free_slots == 0:  # queued: the dispatcher's claim ends it instead of starting it
            assert await dispatch_service.claim(app.platform, limit=1, claimant="other") == []

        ended = await app.http.get(f"{BASE}/functions/{function_id}/calls/{call['id']}")
        assert ended.json()["status"] == "Failed"
        assert "sealed with another key" in ended.json()["error"]["message"]
        assert starter.started == [] and starter.free == free_slots
