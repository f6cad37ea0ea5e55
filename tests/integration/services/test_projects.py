"""Projects exist once something names them; token/inspect lists them to a principal with
every project, and only its own to others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from fnhost import errors
from fnhost.auth import capabilities as caps
from fnhost.services import projects as projects_service
from fnhost.services import tokens as tokens_service
from tests.integration.apps import InProcess, in_process


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        yield running


async def _inspected(app: InProcess, token: str | None = None) -> list[dict[str, object]]:
    response = await app.http.get("/api/v1/token/inspect", headers=app.auth(token) if token else {})
    assert response.status_code == 200
    return list(response.json()["projects"])


async def _admin_sees(app: InProcess) -> list[object]:
    return [project["projectUrlName"] for project in await _inspected(app)]


async def test_reads_name_nothing_and_a_failed_write_names_nothing(app: InProcess) -> None:
    listed = await app.http.get("/api/v1/projects/quiet/functions")
    assert listed.status_code == 200 and listed.json()["items"] == []
    refused = await app.http.post(
        "/api/v1/projects/quiet/functions", json={"items": [{"name": "f", "fileId": 99}]}
    )
    assert refused.status_code == 400
    assert await _admin_sees(app) == []

    # The same process writes there next: the failed write must not have been remembered.
    created = await app.http.post(
        "/api/v1/projects/quiet/sessions", json={"items": [{"tokenExchange": True}]}
    )
    assert created.status_code == 201
    assert await _inspected(app) == [{"projectUrlName": "quiet", "groups": []}]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/files", {"name": "code.zip"}),
        ("/datasets", {"items": [{"externalId": "ds"}]}),
        ("/sessions", {"items": [{"tokenExchange": True}]}),
    ],
)
async def test_the_first_write_of_a_resource_names_its_project(
    app: InProcess, path: str, body: dict[str, object]
) -> None:
    created = await app.http.post(f"/api/v1/projects/first{path}", json=body)
    assert created.status_code == 201
    assert await _admin_sees(app) == ["first"]


async def test_grants_and_create_name_projects(app: InProcess) -> None:
    token = await tokens_service.issue(
        app.platform,
        subject="two",
        projects=["alpha", "beta"],
        capabilities_=[caps.FUNCTIONS_READ],
        expires_in=timedelta(hours=1),
    )
    await projects_service.create(app.platform, name="gamma")
    await projects_service.create(app.platform, name="gamma")

    assert await _admin_sees(app) == ["alpha", "beta", "gamma"]
    # Another principal sees the projects it is granted, not every one.
    assert [p["projectUrlName"] for p in await _inspected(app, token)] == ["alpha", "beta"]


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-leading", "x" * 256])
async def test_a_name_no_url_could_carry_is_refused(app: InProcess, name: str) -> None:
    with pytest.raises(errors.InvalidInput, match="Invalid project name"):
        await projects_service.create(app.platform, name=name)
    with pytest.raises(errors.InvalidInput, match="Invalid project name"):
        await tokens_service.issue(
            app.platform,
            subject="s",
            projects=[name],
            capabilities_=[caps.FUNCTIONS_READ],
            expires_in=None,
        )
    assert await _admin_sees(app) == []
