"""Dependencies of the routes: the platform, the authenticated caller, capability checks.

Each dependency takes only the request: every level of nested dependencies costs FastAPI a
full `solve_dependencies` pass per request, so none of them depends on another.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from fnhost import errors, log_context
from fnhost.auth.principal import Principal
from fnhost.services import identity
from fnhost.services.platform import Platform


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def get_platform(request: Request) -> Platform:
    # async: FastAPI runs a plain def dependency in a worker thread, a hop on every request.
    return _platform(request)


PlatformDep = Annotated[Platform, Depends(get_platform)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def get_principal(request: Request) -> Principal:
    return await identity.authenticate(_platform(request), bearer_token(request))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*capabilities: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold one of `capabilities` in the URL's project.

    It authenticates by itself rather than through `PrincipalDep` (see the module docstring);
    no route takes both, so no request authenticates twice.
    """

    # `project` is declared (not read from the path by hand) so that the OpenAPI document
    # shows it on every route, including those that do not take it themselves.
    async def check(request: Request, project: str) -> Principal:
        principal = await get_principal(request)
        function_id = request.path_params.get("functionId", "")
        log_context.bind(
            project=project, function_id=int(function_id) if function_id.isdigit() else None
        )
        if not principal.in_project(project):
            raise errors.Forbidden(f"The token has no access to project {project!r}")
        if not principal.can(project, *capabilities):
            raise errors.Forbidden(
                f"Missing capability: this request needs {' or '.join(capabilities)}"
            )
        return principal

    return check
