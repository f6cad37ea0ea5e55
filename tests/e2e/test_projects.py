"""Projects through the CLI on a running server: a token grant alone makes a project the admin
token's inspection lists (what cognite-toolkit checks before it deploys)."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_identity import fnhost
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e


def admin_projects(server: RunningServer) -> list[dict[str, object]]:
    with server.http() as http:
        inspected = http.get("/api/v1/token/inspect")
    assert inspected.status_code == 200
    return list(inspected.json()["projects"])


def test_admin_inspection_lists_a_project_only_a_token_grant_names(server: RunningServer) -> None:
    granted = f"granted-{uuid.uuid4().hex[:8]}"
    created = f"created-{uuid.uuid4().hex[:8]}"
    assert {"projectUrlName": granted, "groups": []} not in admin_projects(server)

    fnhost(server, "token", "issue", "--project", granted, "--capability", "functionsAcl:READ")
    assert {"projectUrlName": granted, "groups": []} in admin_projects(server)

    assert fnhost(server, "project", "create", created) == [f"Project {created} exists."]
    assert {"projectUrlName": created, "groups": []} in admin_projects(server)
    listed = [line.split("\t")[0] for line in fnhost(server, "project", "list")]
    assert granted in listed and created in listed
