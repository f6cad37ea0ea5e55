"""Prometheus metrics of this server, for operators holding metricsAcl:READ in every project."""

from fastapi import APIRouter, Request, Response

from fnhost import errors, metrics
from fnhost.api.deps import PlatformDep, get_principal
from fnhost.auth import capabilities as caps
from fnhost.services import monitoring

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, platform: PlatformDep) -> Response:
    """This process's metrics in Prometheus's text format (a bearer token is required)."""
    principal = await get_principal(request)
    if not principal.holds_everywhere(caps.METRICS_READ):
        raise errors.Forbidden(
            f"Reading metrics needs {caps.METRICS_READ} in every project: use the admin token, "
            "or `fnhost token issue --all-projects --capability metricsAcl:READ`"
        )
    await monitoring.refresh(platform)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
