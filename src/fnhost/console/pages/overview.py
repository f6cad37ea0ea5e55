"""A project's overview: calls per minute and failure rate over the last hour and day, and
how long each function's calls take (p50, p95)."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from fnhost import clock
from fnhost.console import auth, charts, templating
from fnhost.console.auth import ProjectDep
from fnhost.services import activity as activity_service

router = APIRouter()


@router.get("/p/{project}")
async def overview(request: Request, access: ProjectDep) -> Response:
    """The project's activity, as charts."""
    platform = auth.platform_of(request)
    found = await activity_service.overview(platform, project=access.project, now=clock.now())
    names = await activity_service.function_names(platform, project=access.project)
    return templating.project_page(
        access,
        "overview.html",
        section="overview",
        last_hour=charts.rate_chart(found.last_hour, width_ms=60_000),
        last_day=charts.rate_chart(found.last_day, width_ms=15 * 60_000),
        durations=charts.duration_chart(found.durations, names),
        stats=found.durations,
        names=names,
        hour_calls=sum(rate.calls for rate in found.last_hour),
        day_calls=sum(rate.calls for rate in found.last_day),
    )
