"""Who is using the console: the session cookie, CSRF tokens, and what the visitor may do in
a project (the API's capabilities, checked the same way)."""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from fnhost import errors
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.console import urls
from fnhost.services import console_sessions
from fnhost.services.platform import Platform

COOKIE = "fnhost_console"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No console session, or it ended: the visitor must sign in."""


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _csrf_token(platform: Platform, session_key: str) -> str:
    """The session's CSRF token: derived from its key, so it needs no storage and is the same
    on every page of the session."""
    message = b"console csrf:" + console_sessions.key_hash(session_key).encode()
    return hmac.new(platform.secrets_box.signing_key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Visitor:
    """A signed-in visitor: their principal, session key and the session's CSRF token."""

    principal: Principal
    session_key: str
    csrf_token: str

    def check_csrf(self, submitted: str) -> None:
        """A state-changing form must carry this session's token (other sites cannot read it)."""
        if not hmac.compare_digest(submitted.encode(), self.csrf_token.encode()):
            raise errors.Forbidden(
                "The form's security token is missing or out of date: reload the page and "
                "submit it again"
            )


async def visitor(request: Request) -> Visitor:
    """The signed-in visitor; SignInRequired when there is none."""
    session_key = request.cookies.get(COOKIE)
    if not session_key:
        raise SignInRequired()
    platform = platform_of(request)
    try:
        principal = await console_sessions.resume(platform, session_key=session_key)
    except console_sessions.SessionEnded:
        raise SignInRequired() from None
    return Visitor(principal, session_key, _csrf_token(platform, session_key))


VisitorDep = Annotated[Visitor, Depends(visitor)]


@dataclass(frozen=True)
class ProjectAccess:
    """A visitor in a project, and what they may do there (as the API would allow it)."""

    visitor: Visitor
    project: str

    def can(self, *capabilities: str) -> bool:
        return self.visitor.principal.can(self.project, *capabilities)

    @property
    def can_run(self) -> bool:
        return self.can(caps.FUNCTIONS_RUN, caps.FUNCTIONS_WRITE)

    @property
    def can_write(self) -> bool:
        return self.can(caps.FUNCTIONS_WRITE)

    @property
    def can_deploy(self) -> bool:
        # As through the SDK: the code is uploaded as a file, then the function created.
        return self.can_write and self.can(caps.FILES_WRITE)

    def require(self, allowed: bool, action: str) -> None:
        """Refuse an action the visitor's capabilities do not allow (a 403)."""
        if not allowed:
            raise errors.Forbidden(f"You may not {action} in project {self.project!r}")


async def project_access(request: Request) -> ProjectAccess:
    """The visitor in the URL's project, who must be able to read its functions."""
    found = await visitor(request)
    project = request.path_params["project"]
    if not found.principal.in_project(project):
        raise errors.Forbidden(f"You have no access to project {project!r}")
    if not found.principal.can(project, caps.FUNCTIONS_READ):
        raise errors.Forbidden(f"You may not read the functions of project {project!r}")
    return ProjectAccess(found, project)


ProjectDep = Annotated[ProjectAccess, Depends(project_access)]


def set_session_cookie(
    response: Response, request: Request, *, session_key: str, max_age: int
) -> None:
    response.set_cookie(
        COOKIE,
        session_key,
        max_age=max_age,
        path=urls.PREFIX,
        httponly=True,
        samesite="strict",
        # https as the browser sees it: directly, or behind a proxy the server trusts.
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=urls.PREFIX, httponly=True, samesite="strict")
