"""Sessions (POST /sessions) and token inspection wire models."""

from typing import Any, Literal

from pydantic import Field, model_validator

from fnhost.schemas.common import WireModel

SessionType = Literal["TOKEN_EXCHANGE", "CLIENT_CREDENTIALS", "ONESHOT_TOKEN_EXCHANGE"]
SessionStatus = Literal["READY", "ACTIVE", "CANCELLED", "EXPIRED", "REVOKED", "ACCESS_LOST"]


class SessionCreate(WireModel):
    token_exchange: bool | None = None
    oneshot_token_exchange: bool | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "SessionCreate":
        kinds = [
            bool(self.token_exchange),
            bool(self.oneshot_token_exchange),
            self.client_id is not None or self.client_secret is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "give exactly one of tokenExchange: true, oneshotTokenExchange: true, "
                "or clientId with clientSecret"
            )
        if kinds[2] and not (self.client_id and self.client_secret):
            raise ValueError("clientId and clientSecret must both be given")
        return self

    @property
    def type(self) -> SessionType:
        if self.token_exchange:
            return "TOKEN_EXCHANGE"
        if self.oneshot_token_exchange:
            return "ONESHOT_TOKEN_EXCHANGE"
        return "CLIENT_CREDENTIALS"


class SessionsCreate(WireModel):
    items: list[SessionCreate] = Field(min_length=1, max_length=1)


class SessionRead(WireModel):
    id: int
    type: SessionType
    status: SessionStatus
    nonce: str | None = None
    creation_time: int
    expiration_time: int
    client_id: str | None = None


class ProjectAccess(WireModel):
    project_url_name: str
    groups: list[int] = Field(default_factory=list)


class TokenInspection(WireModel):
    subject: str
    projects: list[ProjectAccess]
    capabilities: list[dict[str, Any]]
