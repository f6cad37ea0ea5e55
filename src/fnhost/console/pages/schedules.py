"""Schedules: create one on a function's page (with a live preview of the cron expression,
computed here), delete one."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from fnhost import clock, cron
from fnhost.console import auth, forms, templating, urls
from fnhost.console.auth import ProjectDep
from fnhost.schemas.common import MAX_ID, parse
from fnhost.schemas.schedules import ScheduleCreate
from fnhost.services import activity as activity_service
from fnhost.services import schedules as schedules_service

router = APIRouter()
PREVIEW_FIRES = 5
MAX_EXPRESSION = 1024
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def preview(expression: str) -> dict[str, Any]:
    """What a cron expression means and when it fires next, or why it is invalid."""
    if not expression.strip():
        return {"valid": False, "error": "Type a cron expression, e.g. */15 * * * *"}
    try:
        cron.validate(expression.strip())
    except cron.InvalidCron as error:
        return {"valid": False, "error": str(error)}
    fires = activity_service.next_fire_times(
        expression.strip(), after=clock.now(), count=PREVIEW_FIRES
    )
    return {
        "valid": True,
        "when": cron.describe(expression.strip()) + " (UTC)",
        "next": [templating.when(at) for at in fires],
    }


@router.get("/p/{project}/schedules/preview")
async def schedule_preview(
    _access: ProjectDep, cron: Annotated[str, Query(max_length=MAX_EXPRESSION)] = ""
) -> JSONResponse:
    """The preview of a cron expression as JSON, for the form's live preview."""
    return JSONResponse(preview(cron), headers={"Cache-Control": "no-store"})


@router.post("/p/{project}/functions/{function_id}/schedules")
async def create_schedule(
    request: Request,
    access: ProjectDep,
    function_id: Id,
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    cron_expression: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    data: Annotated[str, Form()] = "",
) -> Response:
    """Schedule the function; its calls run as the visitor."""
    access.visitor.check_csrf(csrf_token)
    access.require(access.can_write, "create schedules")
    body = parse(
        ScheduleCreate,
        {
            "name": name.strip(),
            "cronExpression": cron_expression.strip(),
            "functionId": function_id,
            "description": description.strip() or None,
            "data": forms.json_value(data, what="The schedule's data"),
        },
    )
    await schedules_service.create(
        auth.platform_of(request),
        project=access.project,
        principal=access.visitor.principal,
        body=body,
    )
    return RedirectResponse(urls.function(access.project, function_id) + "#schedules", 303)


@router.get("/p/{project}/schedules/{schedule_id}/delete")
async def confirm_delete(request: Request, access: ProjectDep, schedule_id: Id) -> Response:
    """Ask before deleting a schedule."""
    access.require(access.can_write, "delete schedules")
    (schedule,) = await schedules_service.retrieve(
        auth.platform_of(request), project=access.project, ids=[schedule_id], ignore_unknown=False
    )
    return templating.project_page(
        access,
        "confirm.html",
        section="functions",
        title=f"Delete schedule {schedule.name}?",
        consequences=f"It stops firing ({schedule.when}). Calls it made are kept.",
        action=urls.delete_schedule(access.project, schedule_id),
        confirm="Delete schedule",
        cancel=urls.function(access.project, schedule.function_id) + "#schedules",
    )


@router.post("/p/{project}/schedules/{schedule_id}/delete")
async def delete_schedule(
    request: Request,
    access: ProjectDep,
    schedule_id: Id,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Delete the schedule; back to its function."""
    access.visitor.check_csrf(csrf_token)
    access.require(access.can_write, "delete schedules")
    platform = auth.platform_of(request)
    (schedule,) = await schedules_service.retrieve(
        platform, project=access.project, ids=[schedule_id], ignore_unknown=False
    )
    await schedules_service.delete(
        platform, project=access.project, ids=[schedule_id], ignore_unknown=False
    )
    return RedirectResponse(urls.function(access.project, schedule.function_id) + "#schedules", 303)
