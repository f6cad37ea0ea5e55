"""Identity: every way a credential becomes a principal, and the credentials fnhost hands out.

- a bearer token on a request: the admin token or an issued one (stored hashed), a client's
  access token from the token endpoint, a running call's token, or an OIDC JWT;
- client credentials (a session's `clientId`/`clientSecret`, the token endpoint): a client
  registered with fnhost, else the OIDC issuer's token endpoint;
- a session, for as long as it is usable: the identity a call or schedule acts with, and the
  token minted for each of its calls;
- what may leave fnhost for the upstream CDF: only tokens of a trusted OIDC issuer, the
  caller's own, or those a session gets for its calls with the identity provider's credentials
  it keeps sealed.
"""

import hmac
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fnhost import clock, errors, timings
from fnhost.auth import call_tokens, capabilities, tokens
from fnhost.auth.principal import Principal
from fnhost.auth.secrets_box import SecretsUnreadable
from fnhost.schemas.sessions import ProjectAccess, TokenInspection
from fnhost.services import projects as projects_service
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import clients as clients_store
from fnhost.store import sessions as sessions_store
from fnhost.store import tokens as tokens_store
from fnhost.store.engine import Tx
from fnhost.store.sessions import SessionRecord

ADMIN_SUBJECT = "fnhost-admin"
# Kinds of stored tokens.
ADMIN = "admin"
ISSUED = "issued"
CLIENT = "client"

USABLE = ("READY", "ACTIVE")

MISSING_TOKEN = "Missing bearer token: send 'Authorization: Bearer <token>'"
NOT_FORWARDED = (
    "Only tokens of a trusted OIDC issuer are forwarded to the upstream CDF; fnhost's own "
    "tokens (the admin token, issued and client tokens, a call's token) never leave fnhost. "
    "A function's client acts upstream when its session was created with the identity "
    "provider's client credentials, or with a token of the provider (tokenExchange)."
)


class SessionUnusable(errors.InvalidInput):
    """The session of this call or schedule can no longer be used."""


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class Captured:
    """An identity as a session captures it: the principal, and, sealed, what its calls act
    with upstream (None: an identity of fnhost's own, which never leaves fnhost)."""

    principal: Principal
    upstream_sealed: str | None = None


async def authenticate(platform: Platform, token: str | None) -> Principal:
    """The principal behind a bearer token; Unauthenticated when missing, unknown or expired."""
    if not token:
        raise errors.Unauthenticated(MISSING_TOKEN)
    if platform.oidc is not None and tokens.looks_like_jwt(token):
        return await platform.oidc.verify(token)
    if call_tokens.is_call_token(token):
        return await _call_principal(platform, token)
    now_ms = clock.now_ms()
    principal = await platform.db.run_read(partial(tokens.resolve, token=token, now_ms=now_ms))
    if principal is None:
        raise errors.Unauthenticated("Invalid, revoked or expired bearer token")
    return principal


async def _call_principal(platform: Platform, token: str) -> Principal:
    """A running call's client: its session's identity, in the session's project only."""
    claims = call_tokens.verify(platform.secrets_box.signing_key, token, now_ms=clock.now_ms())
    if claims is None:
        raise errors.Unauthenticated("Invalid or expired call token")

    def check(tx: Tx) -> SessionRecord:
        if not calls_store.is_running(tx, call_id=claims.call_id):
            raise errors.Unauthenticated("The call this token belongs to has ended")
        try:
            return check_usable(sessions_store.by_id(tx, session_id=claims.session_id))
        except SessionUnusable as error:
            raise errors.Unauthenticated(error.message) from None

    session = await platform.db.run_read(check)
    return Principal.of(
        session.subject,
        projects=frozenset([session.project]),
        capabilities=frozenset(session.capabilities),
        session_id=session.id,
    )


def check_usable(session: SessionRecord | None) -> SessionRecord:
    """The session, if calls may still act with it; SessionUnusable says why not."""
    if session is None:
        raise SessionUnusable("The call's session no longer exists")
    if session.status not in USABLE:
        raise SessionUnusable(f"The call's session (id {session.id}) was {session.status.lower()}")
    if session.expiration_time <= clock.now_ms():
        raise SessionUnusable(f"The call's session (id {session.id}) has expired")
    return session


def _call_token_lifetime(platform: Platform) -> int:
    """Seconds a call's token must last: the call may run to its deadline."""
    return platform.settings.calls.call_timeout_seconds + timings.CALL_TOKEN_MARGIN_SECONDS


def call_token(platform: Platform, *, call_id: int, session: SessionRecord | None) -> str:
    """The bearer token of a call about to run: its session's identity while the call runs.
    SessionUnusable when the session can no longer be used."""
    usable = check_usable(session)
    expires = clock.to_ms(clock.now() + timedelta(seconds=_call_token_lifetime(platform)))
    key = platform.secrets_box.signing_key
    return call_tokens.mint(key, call_id=call_id, session_id=usable.id, expires_ms=expires)


def acts_upstream(platform: Platform, *, project: str, session: SessionRecord | None) -> bool:
    """Whether a call of `session` in `project` gets an identity provider's token instead of
    fnhost's call token: the project has an upstream CDF, and the session holds credentials
    of the identity provider."""
    return (
        session is not None
        and session.upstream_credentials_sealed is not None
        and platform.settings.upstream.url_for(project) is not None
    )


async def upstream_call_token(platform: Platform, *, session: SessionRecord) -> str:
    """The identity provider's token a call of `session` acts with (see `acts_upstream`).

    With client credentials: a token of the client, kept and renewed, valid past the call's
    deadline where the provider's tokens last that long. With the caller's own token: that
    token, while it is valid. SessionUnusable says why there is none.
    """
    assert session.upstream_credentials_sealed is not None
    try:
        credentials = platform.secrets_box.open(session.upstream_credentials_sealed)
    except SecretsUnreadable:
        raise SessionUnusable(
            f"The call's session (id {session.id}) was sealed with another key than this "
            "server's (FNHOST_SECRET_KEY, or secret.key in the data directory); create a new "
            "session"
        ) from None
    if "client_secret" in credentials:
        return await _client_call_token(platform, session, credentials)
    expires_ms = int(credentials["expires_ms"])
    if expires_ms <= clock.now_ms():
        raise SessionUnusable(
            f"The call's session (id {session.id}) holds its creator's token from the identity "
            f"provider, which expired at {clock.from_ms(expires_ms).isoformat()}; calls that "
            "run later, as a schedule's do, need a session created with client credentials "
            "(clientId/clientSecret), as in CDF"
        )
    return credentials["token"]


async def _client_call_token(
    platform: Platform, session: SessionRecord, credentials: dict[str, str]
) -> str:
    if platform.oidc is None:
        raise SessionUnusable(
            f"The call's session (id {session.id}) needs the identity provider's token "
            "endpoint, but no OIDC issuer is configured (FNHOST_OIDC_CONFIG)"
        )
    try:
        return await platform.oidc.client_token(
            credentials["client_id"],
            credentials["client_secret"],
            valid_for_seconds=_call_token_lifetime(platform),
        )
    except errors.FnhostError as error:
        raise SessionUnusable(
            f"The call's session (id {session.id}) could not get a token from the identity "
            f"provider: {error.message}"
        ) from None


async def upstream_bearer(platform: Platform, token: str | None) -> str:
    """`token`, once verified as a JWT of a trusted OIDC issuer: the only kind of credential
    that goes to the upstream CDF. Forbidden for a valid token of fnhost's own (it never leaves
    fnhost); Unauthenticated for one that is no valid token at all."""
    if token and platform.oidc is not None and tokens.looks_like_jwt(token):
        await platform.oidc.verify(token)
        return token
    await authenticate(platform, token)
    raise errors.Forbidden(NOT_FORWARDED)


def caller_identity(platform: Platform, principal: Principal) -> Captured:
    """The caller as a session captures it (token exchange): with the identity provider's
    token it authenticated with, sealed, if it did."""
    token = principal.issuer_token
    if token is None:
        return Captured(principal)
    sealed = platform.secrets_box.seal({"token": token.token, "expires_ms": str(token.expires_ms)})
    return Captured(principal, sealed)


async def registered_client(
    platform: Platform, *, client_id: str, client_secret: str
) -> Principal | None:
    """The principal of a registered client; None when unknown; Unauthenticated when refused."""
    client = await platform.db.run_read(partial(clients_store.get, client_id=client_id))
    if client is None:
        return None
    if client.revoked or not hmac.compare_digest(client.secret_hash, tokens.digest(client_secret)):
        raise errors.Unauthenticated(f"Wrong secret, or client {client_id!r} was revoked")
    return Principal.of(
        client_id,
        projects=None if client.projects is None else frozenset(client.projects),
        capabilities=frozenset(client.capabilities),
    )


async def client_identity(platform: Platform, *, client_id: str, client_secret: str) -> Captured:
    """A client as a session captures it: checked with fnhost's own clients, else with the OIDC
    token endpoint, whose clients' credentials are kept (sealed) to get tokens for the calls."""
    try:
        principal = await registered_client(
            platform, client_id=client_id, client_secret=client_secret
        )
    except errors.Unauthenticated as error:
        raise errors.InvalidInput(f"Invalid client credentials: {error.message}") from error
    if principal is not None:
        return Captured(principal)
    if platform.oidc is None:
        raise errors.InvalidInput(
            f"Unknown client {client_id!r}: register clients with `fnhost client create`"
        )
    principal = await platform.oidc.exchange_client_credentials(client_id, client_secret)
    sealed = platform.secrets_box.seal({"client_id": client_id, "client_secret": client_secret})
    return Captured(principal, sealed)


async def register_token(
    platform: Platform,
    *,
    token: str,
    kind: str,
    subject: str,
    projects: list[str] | None,
    capabilities_: list[str],
    expires_ms: int | None = None,
    description: str | None = None,
) -> None:
    """Store a token's hash with what it grants, naming the projects it grants; an already
    registered token is left as it is."""
    token_hash = tokens.digest(token)
    created = clock.now_ms()

    def store(tx: Tx) -> None:
        if tokens_store.by_hash(tx, token_hash=token_hash) is None:
            projects_service.name_in(tx, projects or ())
            tokens_store.insert_one(
                tx,
                token_hash=token_hash,
                kind=kind,
                subject=subject,
                projects=projects,
                capabilities=capabilities_,
                description=description,
                created_time=created,
                expires_time=expires_ms,
                revoked=False,
            )

    await platform.db.run_write(store)


async def issue_access_token(
    platform: Platform, *, client_id: str, client_secret: str
) -> AccessToken:
    """POST /oauth2/token: a short-lived bearer token for a registered client."""
    principal = await registered_client(platform, client_id=client_id, client_secret=client_secret)
    if principal is None:
        raise errors.Unauthenticated(f"Unknown client {client_id!r}")
    ttl = platform.settings.identity.client_token_ttl_seconds
    (grant,) = principal.grants
    token = tokens.generate()
    # Expired client tokens are of no use to anyone; drop them as new ones are issued.
    await platform.db.run_write(
        partial(tokens_store.delete_expired, kind=CLIENT, now_ms=clock.now_ms())
    )
    await register_token(
        platform,
        token=token,
        kind=CLIENT,
        subject=client_id,
        projects=None if grant.projects is None else sorted(grant.projects),
        capabilities_=sorted(grant.capabilities),
        expires_ms=clock.to_ms(clock.now() + timedelta(seconds=ttl)),
    )
    return AccessToken(token=token, expires_in=ttl)


async def inspect(platform: Platform, principal: Principal) -> TokenInspection:
    """GET /token/inspect: the caller's subject, projects and capabilities. A principal with
    every project lists every project that exists (see services/projects)."""
    granted = set(principal.projects)
    if principal.all_projects:
        named = await projects_service.list_projects(platform)
        granted |= {project.name for project in named}
    return TokenInspection(
        subject=principal.subject,
        projects=[ProjectAccess(project_url_name=p) for p in sorted(granted)],
        capabilities=[
            entry
            for grant in principal.grants
            for entry in capabilities.as_cdf(grant.capabilities, grant.projects)
        ],
    )
