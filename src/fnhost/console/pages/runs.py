"""Runs: the project's past calls and upcoming scheduled calls on one timeline, what ran last
night and what runs next, filtered by function and status."""

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from fnhost import clock, errors
from fnhost.console import auth, charts, templating
from fnhost.console.auth import ProjectDep
from fnhost.services import activity as activity_service

router = APIRouter()
# Name -> how far back and ahead the timeline reaches.
WINDOWS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_WINDOW = "24h"
# Calls listed under the timeline (the timeline itself shows them all): the soonest upcoming
# ones and the newest past ones; the filters narrow the rest down.
NEXT_LISTED = 25
PAST_LISTED = 200


def _function_filter(text: str, names: dict[int, str]) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) not in names:
        raise errors.InvalidInput(f"No function with id {text!r} in this project")
    return int(text)


@router.get("/p/{project}/runs")
async def runs(
    request: Request,
    access: ProjectDep,
    function: str = "",
    status: str = "",
    window: str = DEFAULT_WINDOW,
) -> Response:
    """The timeline, then the same calls as a list: upcoming first, then the past."""
    if window not in WINDOWS:
        raise errors.InvalidInput(f"Unknown window {window!r}; use one of {', '.join(WINDOWS)}")
    platform = auth.platform_of(request)
    names = await activity_service.function_names(platform, project=access.project)
    function_id = _function_filter(function, names)
    status_filter = activity_service.check_status(status)
    found = await activity_service.timeline(
        platform,
        project=access.project,
        now=clock.now(),
        back=WINDOWS[window],
        ahead=WINDOWS[window],
        function_id=function_id,
        status=status_filter,
    )
    return templating.project_page(
        access,
        "runs.html",
        section="runs",
        timeline=found,
        chart=charts.timeline_chart(found, names),
        names=names,
        function=function_id,
        status=status_filter or "",
        statuses=activity_service.STATUSES,
        window=window,
        windows=list(WINDOWS),
        next_listed=NEXT_LISTED,
        past_listed=PAST_LISTED,
    )
