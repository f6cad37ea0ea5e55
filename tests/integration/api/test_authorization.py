"""The authorisation matrix: every route refuses callers without the right token, and changes
nothing when it does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fnhost import clock
from fnhost.auth import capabilities as caps
from fnhost.services import identity
from fnhost.services import tokens as tokens_service
from tests.integration.apps import InProcess, in_process, upload_code

PROJECT = "matrix"
P = "/api/v1/projects/{project}"
F = P + "/functions/{functionId}"
S = P + "/functions/schedules"


@dataclass(frozen=True)
class Seed:
    function_id: int
    call_id: int
    file_id: int
    session_id: int
    schedule_id: int
    nonce: str

    def path(self, template: str, project: str = PROJECT) -> str:
        return template.format(
            project=project,
            functionId=self.function_id,
            callId=self.call_id,
            fileId=self.file_id,
            scheduleId=self.schedule_id,
        )


Body = Callable[[Seed], Any]


@dataclass(frozen=True)
class Rule:
    """A route and what it needs: one of `capabilities` (empty: any valid token)."""

    method: str
    path: str
    capabilities: tuple[str, ...]
    body: Body | None = None


def _no_body(_seed: Seed) -> None:
    return None


# Ordered so that routes which delete come last: the positive control of each rule really runs.
RULES = [
    Rule("GET", "/api/v1/token/inspect", ()),
    Rule("GET", P, ()),
    Rule("GET", P + "/functions", (caps.FUNCTIONS_READ,)),
    Rule("POST", P + "/functions/list", (caps.FUNCTIONS_READ,), lambda s: {"filter": {}}),
    Rule(
        "POST",
        P + "/functions/byids",
        (caps.FUNCTIONS_READ,),
        lambda s: {"items": [{"id": s.function_id}]},
    ),
    Rule("GET", P + "/functions/limits", (caps.FUNCTIONS_READ,)),
    Rule("GET", P + "/functions/status", (caps.FUNCTIONS_READ,)),
    Rule("POST", P + "/functions/status", (caps.FUNCTIONS_WRITE,)),
    Rule("GET", F, (caps.FUNCTIONS_READ,)),
    Rule(
        "POST",
        P + "/functions",
        (caps.FUNCTIONS_WRITE,),
        lambda s: {"items": [{"name": "new", "fileId": s.file_id}]},
    ),
    Rule(
        "POST",
        F + "/call",
        (caps.FUNCTIONS_RUN, caps.FUNCTIONS_WRITE),
        lambda s: {"data": {"x": 1}},
    ),
    Rule("POST", F + "/calls/list", (caps.FUNCTIONS_READ,), lambda s: {"limit": 5}),
    Rule("GET", F + "/calls", (caps.FUNCTIONS_READ,)),
    Rule(
        "POST",
        F + "/calls/byids",
        (caps.FUNCTIONS_READ,),
        lambda s: {"items": [{"id": s.call_id}]},
    ),
    Rule(
        "POST",
        F + "/calls/nodes",
        (caps.FUNCTIONS_READ,),
        lambda s: {"items": [{"id": s.call_id}]},
    ),
    Rule("GET", F + "/calls/{callId}", (caps.FUNCTIONS_READ,)),
    Rule("GET", F + "/calls/{callId}/response", (caps.FUNCTIONS_READ,)),
    Rule("GET", F + "/calls/{callId}/logs", (caps.FUNCTIONS_READ,)),
    Rule(
        "POST",
        S,
        (caps.FUNCTIONS_WRITE,),
        lambda s: {
            "items": [
                {"name": "n", "cronExpression": "0 * * * *", "functionId": s.function_id}
                | {"nonce": s.nonce}
            ]
        },
    ),
    Rule("POST", S + "/list", (caps.FUNCTIONS_READ,), lambda s: {"filter": {}}),
    Rule("GET", S, (caps.FUNCTIONS_READ,)),
    Rule(
        "POST", S + "/byids", (caps.FUNCTIONS_READ,), lambda s: {"items": [{"id": s.schedule_id}]}
    ),
    Rule("GET", S + "/{scheduleId}/input_data", (caps.FUNCTIONS_READ,)),
    Rule("POST", P + "/files", (caps.FILES_WRITE,), lambda s: {"name": "other.zip"}),
    Rule("POST", P + "/files/byids", (caps.FILES_READ,), lambda s: {"items": [{"id": s.file_id}]}),
    Rule(
        "POST",
        P + "/files/downloadlink",
        (caps.FILES_READ,),
        lambda s: {"items": [{"id": s.file_id}]},
    ),
    Rule("GET", P + "/files/{fileId}", (caps.FILES_READ,)),
    Rule("POST", P + "/files/list", (caps.FILES_READ,), lambda s: {"limit": 5}),
    Rule("POST", P + "/files/aggregate", (caps.FILES_READ,), lambda s: {"filter": {}}),
    Rule(
        "POST",
        P + "/files/uploadlink",
        (caps.FILES_WRITE,),
        lambda s: {"items": [{"id": s.file_id}]},
    ),
    # Without `parts` these answer 400 to an allowed caller: refusals come first.
    Rule("POST", P + "/files/initmultipartupload", (caps.FILES_WRITE,), lambda s: {"name": "m"}),
    Rule(
        "POST",
        P + "/files/multiuploadlink",
        (caps.FILES_WRITE,),
        lambda s: {"items": [{"id": s.file_id}]},
    ),
    Rule(
        "POST",
        P + "/files/completemultipartupload",
        (caps.FILES_WRITE,),
        lambda s: {"id": s.file_id, "uploadId": "1.unknown"},
    ),
    Rule(
        "POST",
        P + "/datasets",
        (caps.DATASETS_WRITE,),
        lambda s: {"items": [{"externalId": f"ds-{uuid.uuid4().hex}"}]},
    ),
    Rule("POST", P + "/datasets/byids", (caps.DATASETS_READ,), lambda s: {"items": [{"id": 1}]}),
    Rule("POST", P + "/datasets/list", (caps.DATASETS_READ,), lambda s: {"limit": 5}),
    Rule("POST", P + "/datasets/aggregate", (caps.DATASETS_READ,), lambda s: {"filter": {}}),
    Rule(
        "POST",
        P + "/datasets/update",
        (caps.DATASETS_WRITE,),
        lambda s: {"items": [{"id": 1, "update": {"description": {"set": "d"}}}]},
    ),
    Rule(
        "POST",
        P + "/sessions",
        (caps.SESSIONS_CREATE,),
        lambda s: {"items": [{"tokenExchange": True}]},
    ),
    Rule("GET", P + "/sessions", (caps.SESSIONS_LIST,)),
    Rule(
        "POST",
        P + "/sessions/byids",
        (caps.SESSIONS_LIST,),
        lambda s: {"items": [{"id": s.session_id}]},
    ),
    Rule(
        "POST",
        P + "/sessions/revoke",
        (caps.SESSIONS_DELETE,),
        lambda s: {"items": [{"id": s.session_id}]},
    ),
    Rule(
        "POST",
        P + "/files/delete",
        (caps.FILES_WRITE,),
        lambda s: {"items": [{"id": s.file_id}]},
    ),
    Rule(
        "POST", S + "/delete", (caps.FUNCTIONS_WRITE,), lambda s: {"items": [{"id": s.schedule_id}]}
    ),
    Rule(
        "POST",
        P + "/functions/delete",
        (caps.FUNCTIONS_WRITE,),
        lambda s: {"items": [{"id": s.function_id}]},
    ),
]

# Routes that take no bearer token, and why.
PUBLIC = {
    # Capability URLs (spec section 6 step 3): the unguessable URL is the credential, because
    # SDK v7/v6 send no token with the upload.
    ("PUT", "/api/v1/files/upload/{upload_key}"),
    ("PUT", "/api/v1/files/upload/{upload_key}/{part}"),
    ("GET", "/api/v1/files/download/{file_id}/{token}"),
    # The OAuth token endpoint authenticates with the client id and secret in the request.
    ("POST", "/oauth2/token"),
}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        yield running


async def _seed(app: InProcess) -> Seed:
    file_id = await upload_code(app, PROJECT)
    created = await app.http.post(
        f"/api/v1/projects/{PROJECT}/functions",
        json={"items": [{"name": "f", "fileId": file_id, "secrets": {"key": "value"}}]},
    )
    function_id = created.json()["items"][0]["id"]
    called = await app.http.post(
        f"/api/v1/projects/{PROJECT}/functions/{function_id}/call", json={"data": {}}
    )
    session_id, schedule_nonce, create_nonce = [
        (
            await app.http.post(
                f"/api/v1/projects/{PROJECT}/sessions", json={"items": [{"tokenExchange": True}]}
            )
        ).json()["items"][0]
        for _ in range(3)
    ]
    schedule = await app.http.post(
        f"/api/v1/projects/{PROJECT}/functions/schedules",
        json={
            "items": [
                {
                    "name": "s",
                    "cronExpression": "0 * * * *",
                    "functionId": function_id,
                    "data": {"secret-ish": 1},
                    "nonce": schedule_nonce["nonce"],
                }
            ]
        },
    )
    return Seed(
        function_id=function_id,
        call_id=called.json()["id"],
        file_id=file_id,
        session_id=session_id["id"],
        schedule_id=schedule.json()["items"][0]["id"],
        nonce=create_nonce["nonce"],
    )


async def _issue(app: InProcess, projects: list[str], granted: list[str]) -> str:
    return await tokens_service.issue(
        app.platform,
        subject="matrix",
        projects=projects,
        capabilities_=granted,
        expires_in=timedelta(hours=1),
    )


async def _expired(app: InProcess) -> str:
    await identity.register_token(
        app.platform,
        token="expired-token",
        kind="issued",
        subject="matrix",
        projects=None,
        capabilities_=list(caps.ALL),
        expires_ms=clock.to_ms(clock.now() - timedelta(seconds=1)),
    )
    return "expired-token"


def test_rules_cover_every_route(app: InProcess) -> None:
    """A new route must be added to the matrix (or to PUBLIC, with the reason)."""
    routes = {
        (method.upper(), path)
        for path, operations in app.app.openapi()["paths"].items()
        for method in operations
    }
    documented = {(rule.method, rule.path) for rule in RULES} | PUBLIC
    assert routes - documented == set(), "routes missing from the authorisation matrix"
    assert documented - routes == set(), "the matrix names routes that do not exist"


def _is_cdf_error(response: Any, status: int) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and isinstance(body.get("error"), dict)
        and body["error"].get("code") == status
        and bool(body["error"].get("message"))
    )


async def test_every_route_refuses_wrong_callers_and_changes_nothing(app: InProcess) -> None:
    seed = await _seed(app)
    expired = await _expired(app)
    other_project = await _issue(app, ["elsewhere"], list(caps.ALL))
    failures: list[str] = []
    for rule in RULES:
        lacking = [c for c in caps.ALL if c not in rule.capabilities]
        cases: list[tuple[str, dict[str, str], int]] = [
            ("no token", {"Authorization": ""}, 401),
            ("garbage token", app.auth("not-a-token"), 401),
            ("expired token", app.auth(expired), 401),
        ]
        if rule.path.startswith(P):
            cases.append(("other project", app.auth(other_project), 403))
        if rule.capabilities:
            cases.append(
                ("lacking capability", app.auth(await _issue(app, [PROJECT], lacking)), 403)
            )
        body = (rule.body or _no_body)(seed)
        for name, headers, status in cases:
            before = await app.snapshot()
            response = await app.http.request(
                rule.method, seed.path(rule.path), json=body, headers=headers
            )
            if not _is_cdf_error(response, status):
                failures.append(f"{rule.method} {rule.path} {name}: {response.status_code}")
            if await app.snapshot() != before:
                failures.append(f"{rule.method} {rule.path} {name}: changed the database")
        # The positive control: the needed capability alone is enough, so the refusals above
        # were about the token and not about the request.
        allowed = await _issue(app, [PROJECT], list(rule.capabilities[:1]) or [caps.FILES_READ])
        response = await app.http.request(
            rule.method, seed.path(rule.path), json=body, headers=app.auth(allowed)
        )
        if response.status_code in (401, 403):
            failures.append(f"{rule.method} {rule.path} allowed token: {response.status_code}")
    assert failures == []
