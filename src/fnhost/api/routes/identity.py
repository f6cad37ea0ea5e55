"""Token inspection and project lookup (not project-scoped, or project metadata)."""

from fastapi import APIRouter

from fnhost import errors
from fnhost.api import responses
from fnhost.api.deps import PlatformDep, PrincipalDep
from fnhost.api.responses import WireJSON
from fnhost.services import identity

router = APIRouter(tags=["identity"])


@router.get("/api/v1/token/inspect")
async def inspect_token(platform: PlatformDep, principal: PrincipalDep) -> WireJSON:
    """The caller's subject, projects and capabilities."""
    return responses.wire(await identity.inspect(platform, principal))


@router.get("/api/v1/projects/{project}")
async def get_project(project: str, principal: PrincipalDep) -> WireJSON:
    """A project the caller may use (projects are namespaces named by the URL)."""
    if not principal.in_project(project):
        raise errors.Forbidden(f"The token has no access to project {project!r}")
    return WireJSON({"name": project, "urlName": project})


@router.get("/health", include_in_schema=False)
async def health() -> WireJSON:
    """Liveness probe."""
    return WireJSON({"status": "ok"})
