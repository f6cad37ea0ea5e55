"""The OIDC configuration file: trusted issuers and how their groups map to fnhost grants."""

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Grant

# Asymmetric algorithms only: a JWKS holds public keys, and accepting HS* with them would let
# anyone sign tokens with the public key as the HMAC secret (algorithm confusion).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
ALL_PROJECTS = "*"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupMapping(_Strict):
    """Members of the IdP group `source_id` get `capabilities` in `projects` (`["*"]`: all)."""

    source_id: str = Field(min_length=1)
    projects: tuple[str, ...] = Field(min_length=1)
    capabilities: tuple[str, ...] = Field(min_length=1)

    @field_validator("capabilities")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(caps.parse(c) for c in value)

    def grant(self) -> Grant:
        projects = None if ALL_PROJECTS in self.projects else frozenset(self.projects)
        return Grant(projects, frozenset(self.capabilities))


class Issuer(_Strict):
    """One trusted identity provider."""

    issuer: str = Field(min_length=1, description="Exact `iss` of its tokens.")
    audience: str = Field(min_length=1, description="Required `aud` of its tokens.")
    jwks_url: str = Field(min_length=1, description="Where its signing keys are published.")
    groups_claim: str = Field("groups", description="Claim listing the caller's group ids.")
    algorithms: tuple[str, ...] = Field(("RS256",), min_length=1)
    token_url: str | None = Field(
        None, description="OAuth token endpoint that checks clientId/clientSecret of sessions."
    )
    scopes: tuple[str, ...] = Field((), description="Scopes asked for with client credentials.")
    groups: tuple[GroupMapping, ...] = ()

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"algorithms {refused} are not allowed; use {sorted(ASYMMETRIC_ALGORITHMS)}"
            )
        return value

    def grants(self, groups: list[str]) -> tuple[Grant, ...]:
        """The grants of a caller who is a member of `groups`."""
        return tuple(m.grant() for m in self.groups if m.source_id in groups)


class OidcConfig(_Strict):
    issuers: tuple[Issuer, ...] = Field(min_length=1)

    @field_validator("issuers")
    @classmethod
    def _one_token_url(cls, value: tuple[Issuer, ...]) -> tuple[Issuer, ...]:
        # Client secrets are sent to exactly one place, never tried on several providers.
        if sum(issuer.token_url is not None for issuer in value) > 1:
            raise ValueError("at most one issuer may have a token_url")
        if len({issuer.issuer for issuer in value}) != len(value):
            raise ValueError("each issuer may appear only once")
        return value

    def find(self, issuer: str) -> Issuer | None:
        return next((i for i in self.issuers if i.issuer == issuer), None)

    @property
    def token_issuer(self) -> Issuer | None:
        return next((i for i in self.issuers if i.token_url is not None), None)


def load(path: Path) -> OidcConfig:
    """Read the configuration from a `.toml` or `.json` file; ValueError says what is wrong."""
    text = path.read_text()
    raw: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    try:
        return OidcConfig.model_validate(raw)
    except ValidationError as error:
        raise ValueError(f"invalid OIDC configuration {path}: {error}") from error
