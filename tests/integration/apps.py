"""The API in the test process over a real SQLite file: no server, no background workers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import Connection, select

from fnhost.api.app import create_app
from fnhost.cli.platform import open_platform
from fnhost.lifecycle import FunctionStatus
from fnhost.services import tokens as tokens_service
from fnhost.services.platform import Platform
from fnhost.settings import Settings
from fnhost.store import functions as functions_store
from fnhost.store.tables import Base

ADMIN_TOKEN = "integration-admin-token"


@dataclass
class InProcess:
    platform: Platform
    app: FastAPI
    http: httpx.AsyncClient

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def snapshot(self) -> dict[str, list[Any]]:
        """Every row of every table: equal snapshots mean nothing changed."""

        def read(connection: Connection) -> dict[str, list[Any]]:
            return {
                table.name: [tuple(row) for row in connection.execute(select(table))]
                for table in Base.metadata.sorted_tables
            }

        return await self.platform.db.run_read(read)


@asynccontextmanager
async def in_process(data_dir: Path, **settings: Any) -> AsyncIterator[InProcess]:
    """The app on a fresh data directory, with the admin token registered."""
    # The runtime is only a name here: nothing is built or run in the test process.
    runtimes = {"py311": "Python 3.11"}
    async with open_platform(
        Settings.load(data_dir=data_dir, **settings), runtimes=runtimes
    ) as platform:
        await tokens_service.register_admin(platform, token=ADMIN_TOKEN)
        app = create_app(platform)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                # Server errors come back as 500 responses, as they would over the network.
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://testserver",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as http,
        ):
            yield InProcess(platform, app, http)


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(data):\n    return data\n")
    return buffer.getvalue()


async def upload_code(app: InProcess, project: str) -> int:
    """An uploaded code zip in `project`; returns its file id."""
    created = await app.http.post(f"/api/v1/projects/{project}/files", json={"name": "code.zip"})
    created.raise_for_status()
    uploaded = await app.http.put(created.json()["uploadUrl"], content=code_zip())
    uploaded.raise_for_status()
    return int(created.json()["id"])


async def ready_function(app: InProcess, project: str, **fields: Any) -> int:
    """A function (with these extra wire `fields`) marked Ready without a build (nothing runs in
    the test process)."""
    file_id = await upload_code(app, project)
    created = await app.http.post(
        f"/api/v1/projects/{project}/functions",
        json={"items": [{"name": "f", "fileId": file_id, **fields}]},
    )
    function_id = int(created.json()["items"][0]["id"])
    ready = await app.platform.db.run_write(
        lambda tx: functions_store.transition(
            tx,
            function_id=function_id,
            from_status=FunctionStatus.QUEUED,
            status=FunctionStatus.READY,
            environment="/nonexistent/python",
        )
    )
    assert ready is not None
    return function_id
