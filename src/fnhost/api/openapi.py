"""The OpenAPI document (`GET /openapi.json`): what FastAPI derives from the routes, completed
with what it cannot see, so that clients and fuzzers reach the real API.

FastAPI documents the bodies and parameters routes declare; fnhost adds:
- the bearer token every route needs, except those whose `openapi_extra` says `security: []`;
- the error shape: every 4xx leaves in CDF's shape (never FastAPI's 422 with `detail`), except
  where a route documents its own 4xx (the OAuth token endpoint);
- `Content-Encoding: gzip` on JSON bodies, which the middleware decodes before any route.

Bodies that a route reads by hand (a form, raw bytes) are described by the route itself.
"""

from typing import Any

from pydantic import BaseModel

BEARER = "bearerToken"


class CdfErrorDetail(BaseModel):
    code: int
    message: str
    missing: list[dict[str, Any]] | None = None
    duplicated: list[dict[str, Any]] | None = None


class CdfError(BaseModel):
    """An error in CDF's shape; `code` is the HTTP status."""

    error: CdfErrorDetail


_GZIP = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "description": "gzip: the body is gzip-compressed (the cognite-sdk compresses every body).",
    "schema": {"type": "string", "enum": ["gzip"]},
}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """`document`, as FastAPI made it, completed with what the routes do by hand."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["CdfError"] = CdfError.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["CdfError"].pop("$defs", {}))
    document["components"]["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A token of fnhost's (admin, issued, or from POST /oauth2/token), "
            "or a JWT of a configured OIDC issuer.",
        }
    }
    document["security"] = [{BEARER: []}]
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            _complete_operation(operation)
    return document


def _complete_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # validation errors are 400s in CDF's shape
    if not any(status.startswith("4") for status in responses):
        responses["4XX"] = {
            "description": "The request was refused; nothing changed.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CdfError"}}},
        }
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        operation.setdefault("parameters", []).append(_GZIP)
