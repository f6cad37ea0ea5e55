"""The OpenAPI document tells the truth about what each route reads and answers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apps import in_process


@pytest.fixture
async def document(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with in_process(tmp_path) as app:
        response = await app.http.get("/openapi.json")
        assert response.status_code == 200
        yield response.json()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_path_parameter_is_declared(document: dict[str, Any]) -> None:
    # Found by the fuzz run: routes that read `project` only through their capability check
    # did not declare it.
    for method, path, operation in _operations(document):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert set(re.findall(r"{(\w+)}", path)) == declared, f"{method} {path}"


def test_errors_are_documented_in_the_cdf_shape(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path}"
        if path != "/oauth2/token":
            schema = responses["4XX"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/CdfError"}, f"{method} {path}"
    error = document["components"]["schemas"]["CdfErrorDetail"]
    assert set(error["required"]) == {"code", "message"}


def test_bodies_read_by_hand_are_described(document: dict[str, Any]) -> None:
    paths = document["paths"]
    token = paths["/oauth2/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["grant_type"]
    assert set(token["responses"]) == {"200", "400", "401"}
    for upload_path in (
        "/api/v1/files/upload/{upload_key}",
        "/api/v1/files/upload/{upload_key}/{part}",
    ):
        upload = paths[upload_path]["put"]
        assert upload["requestBody"]["content"]["application/octet-stream"]["schema"] == {
            "type": "string",
            "format": "binary",
        }
    download = paths["/api/v1/files/download/{file_id}/{token}"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"*/*"}  # the file's own type


def test_json_bodies_may_be_gzipped(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if "application/json" not in operation.get("requestBody", {}).get("content", {}):
            continue
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "Content-Encoding" in headers, f"{method} {path}"


def test_only_capability_urls_and_the_token_endpoint_need_no_bearer_token(
    document: dict[str, Any],
) -> None:
    assert document["security"] == [{"bearerToken": []}]
    open_routes = {(m, p) for m, p, op in _operations(document) if op.get("security") == []}
    assert open_routes == {
        ("POST", "/oauth2/token"),
        ("PUT", "/api/v1/files/upload/{upload_key}"),
        ("PUT", "/api/v1/files/upload/{upload_key}/{part}"),
        ("GET", "/api/v1/files/download/{file_id}/{token}"),
    }
