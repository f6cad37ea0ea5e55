"""A project's functions, one function's page (fields, deploy status, code, calls,
schedules), and the actions on it: run, delete."""

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from fnhost import clock
from fnhost.console import auth, forms, live, templating, urls
from fnhost.console.auth import ProjectDep
from fnhost.schemas.calls import CallCreate, CallFilter
from fnhost.schemas.common import MAX_ID, Identifier
from fnhost.services import activity as activity_service
from fnhost.services import calls as calls_service
from fnhost.services import code as code_service
from fnhost.services import functions as functions_service

router = APIRouter()
PAGE_SIZE = 25
NEXT_FIRES = 5
FunctionId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/p/{project}/functions")
async def list_functions(
    request: Request, access: ProjectDep, q: str = "", cursor: str | None = None
) -> Response:
    """The project's functions, newest first, searchable by name or external id."""
    items, next_cursor = await activity_service.list_functions(
        auth.platform_of(request),
        project=access.project,
        search=q.strip(),
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    return templating.project_page(
        access,
        "functions.html",
        section="functions",
        items=items,
        query=q.strip(),
        next_cursor=next_cursor,
        paged=cursor is not None,
    )


@router.get("/p/{project}/functions/{function_id}")
async def function_page(
    request: Request,
    access: ProjectDep,
    function_id: FunctionId,
    status: str = "",
    cursor: str | None = None,
) -> Response:
    """Everything about one function: fields, deploy status, code, calls, schedules."""
    platform = auth.platform_of(request)
    project = access.project
    function = await functions_service.get(platform, project=project, function_id=function_id)
    status_filter = activity_service.check_status(status)
    calls, next_cursor = await calls_service.list_calls(
        platform,
        project=project,
        function_id=function_id,
        filter=CallFilter(status=status_filter),
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    code = await code_service.read(
        platform, project=project, function_id=function_id, function_path=function.function_path
    )
    now = clock.now()
    found = await activity_service.schedules_of(platform, project=project, function_id=function_id)
    fires = activity_service.next_fire_times
    schedules = [
        (schedule, fires(schedule.cron_expression, after=now, count=NEXT_FIRES))
        for schedule in found
    ]
    return templating.project_page(
        access,
        "function.html",
        section="functions",
        function=function,
        calls=calls,
        status=status_filter or "",
        statuses=activity_service.STATUSES,
        next_cursor=next_cursor,
        paged=cursor is not None,
        code=code,
        schedules=schedules,
        deploying=function.status not in live.DEPLOY_ENDED,
    )


@router.get("/p/{project}/functions/{function_id}/events")
async def deploy_events(
    request: Request, access: ProjectDep, function_id: FunctionId, shown: str = ""
) -> Response:
    """The function's status as server-sent events, until it is Ready or Failed."""
    return live.stream(
        live.deploy_events(
            auth.platform_of(request),
            project=access.project,
            function_id=function_id,
            shown=shown,
        )
    )


@router.post("/p/{project}/functions/{function_id}/run")
async def run(
    request: Request,
    access: ProjectDep,
    function_id: FunctionId,
    csrf_token: Annotated[str, Form()] = "",
    data: Annotated[str, Form()] = "",
) -> Response:
    """Call the function with the JSON typed; the call's page opens (live)."""
    access.visitor.check_csrf(csrf_token)
    access.require(access.can_run, "run functions")
    call = await calls_service.create(
        auth.platform_of(request),
        project=access.project,
        function_id=function_id,
        principal=access.visitor.principal,
        body=CallCreate(data=forms.json_value(data, what="The call's data")),
    )
    return RedirectResponse(urls.call(access.project, function_id, call.id), status_code=303)


@router.get("/p/{project}/functions/{function_id}/delete")
async def confirm_delete(request: Request, access: ProjectDep, function_id: FunctionId) -> Response:
    """Ask before deleting a function."""
    access.require(access.can_write, "delete functions")
    function = await functions_service.get(
        auth.platform_of(request), project=access.project, function_id=function_id
    )
    return templating.project_page(
        access,
        "confirm.html",
        section="functions",
        title=f"Delete function {function.name}?",
        consequences="Its schedules stop and are deleted, and its calls with their logs and "
        "responses are deleted too. This cannot be undone.",
        action=urls.delete_function(access.project, function_id),
        confirm="Delete function",
        cancel=urls.function(access.project, function_id),
    )


@router.post("/p/{project}/functions/{function_id}/delete")
async def delete(
    request: Request,
    access: ProjectDep,
    function_id: FunctionId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Delete the function, its schedules and its calls."""
    access.visitor.check_csrf(csrf_token)
    access.require(access.can_write, "delete functions")
    await functions_service.delete(
        auth.platform_of(request),
        project=access.project,
        items=[Identifier(id=function_id)],
        ignore_unknown=False,
    )
    return RedirectResponse(urls.functions(access.project), status_code=303)
