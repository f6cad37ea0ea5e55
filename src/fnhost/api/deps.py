"""Dependencies of the routes: the platform, the authenticated caller, capability checks."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from fnhost import errors
from fnhost.auth.principal import Principal
from fnhost.services import tokens as tokens_service
from fnhost.services.platform import Platform


async def get_platform(request: Request) -> Platform:
    # async: FastAPI runs a plain def dependency in a worker thread, a hop on every request.
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def get_principal(request: Request, platform: PlatformDep) -> Principal:
    return await tokens_service.authenticate(platform, bearer_token(request))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*capabilities: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold one of `capabilities` in the URL's project."""

    async def check(request: Request, principal: PrincipalDep) -> Principal:
        project = request.path_params["project"]
        if not principal.in_project(project):
            raise errors.Forbidden(f"The token has no access to project {project!r}")
        if not principal.can(project, *capabilities):
            raise errors.Forbidden(
                f"Missing capability: this request needs {' or '.join(capabilities)}"
            )
        return principal

    return check
