"""The OAuth 2.0 token endpoint (client credentials grant, RFC 6749 section 4.4).

It answers in RFC 6749's shape, not CDF's: OAuth clients such as the SDK's
`OAuthClientCredentials` read `{"error": "invalid_client"}` and `access_token`/`expires_in`.
"""

import base64
import binascii
import urllib.parse

from fastapi import APIRouter, Request
from pydantic import BaseModel

from fnhost import errors
from fnhost.api.deps import PlatformDep
from fnhost.api.responses import WireJSON
from fnhost.services import identity

router = APIRouter(tags=["identity"])


class AccessToken(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class OAuthError(BaseModel):
    error: str
    error_description: str


# The form is parsed by hand (a malformed one is answered in RFC 6749's shape, not with
# FastAPI's validation errors), so it is described here for the OpenAPI document. The client
# authenticates with its id and secret, in the form or with HTTP Basic, not with a bearer token.
_TOKEN_REQUEST = {
    "security": [],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string"},
                        "audience": {"type": "string"},
                    },
                }
            }
        },
    },
}


def _oauth_error(status: int, code: str, description: str) -> WireJSON:
    return WireJSON(
        {"error": code, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


@router.post(
    "/oauth2/token",
    openapi_extra=_TOKEN_REQUEST,
    responses={
        200: {"model": AccessToken},
        400: {"model": OAuthError, "description": "A malformed request (RFC 6749 5.2)"},
        401: {"model": OAuthError, "description": "Unknown client or wrong secret"},
    },
)
async def token(request: Request, platform: PlatformDep) -> WireJSON:
    """Exchange a registered client's id and secret for a short-lived bearer token."""
    form = dict(urllib.parse.parse_qsl((await request.body()).decode(errors="replace")))
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "Only grant_type=client_credentials is supported"
        )
    credentials = _basic_credentials(request) or (
        form.get("client_id", ""),
        form.get("client_secret", ""),
    )
    if not all(credentials):
        return _oauth_error(400, "invalid_request", "Send client_id and client_secret")
    try:
        issued = await identity.issue_access_token(
            platform, client_id=credentials[0], client_secret=credentials[1]
        )
    except errors.Unauthenticated as error:
        return _oauth_error(401, "invalid_client", error.message)
    return WireJSON(
        {"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in},
        headers={"Cache-Control": "no-store"},
    )
