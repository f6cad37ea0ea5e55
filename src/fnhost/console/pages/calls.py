"""A call's page: status, times, schedule, response, error and trace, and its logs, live while
it runs; with the cognite-sdk code that fetches the same call."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from fnhost.console import auth, live, templating
from fnhost.console.auth import ProjectDep
from fnhost.schemas.common import MAX_ID
from fnhost.services import activity as activity_service
from fnhost.services import calls as calls_service
from fnhost.services import functions as functions_service
from fnhost.services import schedules as schedules_service

router = APIRouter()
# Log lines a call's page shows at once; the SDK snippet fetches all of them.
LOG_LINES_SHOWN = 10_000
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def sdk_snippet(project: str, function_id: int, call_id: int, base_url: str) -> str:
    """Python that fetches this call with the cognite-sdk."""
    return (
        "from cognite.client import ClientConfig, CogniteClient\n"
        "from cognite.client.credentials import Token\n\n"
        "client = CogniteClient(\n"
        "    ClientConfig(\n"
        '        client_name="console",\n'
        f"        project={project!r},\n"
        f"        base_url={base_url!r},\n"
        '        credentials=Token("<your token>"),\n'
        "    )\n"
        ")\n"
        f"call = client.functions.calls.retrieve(call_id={call_id}, function_id={function_id})\n"
        "print(call.status, call.error)\n"
        "print(call.get_response())\n"
        "for line in call.get_logs():\n"
        "    print(line.timestamp, line.message)\n"
    )


@router.get("/p/{project}/functions/{function_id}/calls/{call_id}")
async def call_page(request: Request, access: ProjectDep, function_id: Id, call_id: Id) -> Response:
    """One call, with its logs (live while it runs)."""
    platform = auth.platform_of(request)
    project = access.project
    call = await calls_service.get(
        platform, project=project, function_id=function_id, call_id=call_id
    )
    function = await functions_service.get(platform, project=project, function_id=function_id)
    (placed,) = await calls_service.nodes(
        platform, project=project, function_id=function_id, ids=[call_id], ignore_unknown=False
    )
    found = await calls_service.response(
        platform, project=project, function_id=function_id, call_id=call_id
    )
    lines = await activity_service.log_lines(
        platform,
        project=project,
        function_id=function_id,
        call_id=call_id,
        after_id=0,
        limit=LOG_LINES_SHOWN + 1,
    )
    schedule = None
    if call.schedule_id is not None:
        known = await schedules_service.retrieve(
            platform, project=project, ids=[call.schedule_id], ignore_unknown=True
        )
        schedule = known[0] if known else None
    base_url = str(request.base_url).removesuffix("/").removesuffix("/console")
    return templating.project_page(
        access,
        "call.html",
        section="functions",
        function=function,
        call=call,
        response=found.response,
        lines=lines[:LOG_LINES_SHOWN],
        more_lines=len(lines) > LOG_LINES_SHOWN,
        schedule=schedule,
        node=placed.node,
        snippet=sdk_snippet(project, function_id, call_id, base_url),
    )


@router.get("/p/{project}/functions/{function_id}/calls/{call_id}/events")
async def call_events(
    request: Request,
    access: ProjectDep,
    function_id: Id,
    call_id: Id,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """The call's new log lines, then its end, as server-sent events."""
    # A reconnecting EventSource says which line it saw last.
    resumed = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    return live.stream(
        live.call_events(
            auth.platform_of(request),
            project=access.project,
            function_id=function_id,
            call_id=call_id,
            after_id=max(after, resumed),
        )
    )
