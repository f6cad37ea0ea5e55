"""The console's paths, built in one place (templates call these; nothing spells a path twice).

Project names come from URLs and may hold any character but `/`: each is quoted."""

from urllib.parse import quote, urlencode

PREFIX = "/console"
STATIC = PREFIX + "/static"


def _project(project: str) -> str:
    return f"{PREFIX}/p/{quote(project, safe='')}"


def home() -> str:
    return PREFIX + "/"


def sign_in(next_path: str | None = None) -> str:
    return f"{PREFIX}/sign-in" + (f"?{urlencode({'next': next_path})}" if next_path else "")


def sign_out() -> str:
    return f"{PREFIX}/sign-out"


def open_project() -> str:
    return f"{PREFIX}/open"


def static(name: str) -> str:
    return f"{STATIC}/{name}"


def overview(project: str) -> str:
    return _project(project)


def functions(project: str, **query: str) -> str:
    return _with_query(f"{_project(project)}/functions", query)


def function(project: str, function_id: int, **query: str) -> str:
    return _with_query(f"{_project(project)}/functions/{function_id}", query)


def function_events(project: str, function_id: int) -> str:
    return f"{function(project, function_id)}/events"


def run(project: str, function_id: int) -> str:
    return f"{function(project, function_id)}/run"


def delete_function(project: str, function_id: int) -> str:
    return f"{function(project, function_id)}/delete"


def create_schedule(project: str, function_id: int) -> str:
    return f"{function(project, function_id)}/schedules"


def call(project: str, function_id: int, call_id: int) -> str:
    return f"{function(project, function_id)}/calls/{call_id}"


def call_events(project: str, function_id: int, call_id: int) -> str:
    return f"{call(project, function_id, call_id)}/events"


def delete_schedule(project: str, schedule_id: int) -> str:
    return f"{_project(project)}/schedules/{schedule_id}/delete"


def schedule_preview(project: str) -> str:
    return f"{_project(project)}/schedules/preview"


def runs(project: str, **query: str) -> str:
    return _with_query(f"{_project(project)}/runs", query)


def deploy(project: str) -> str:
    return f"{_project(project)}/deploy"


def _with_query(path: str, query: dict[str, str]) -> str:
    present = {key: value for key, value in query.items() if value}
    return f"{path}?{urlencode(present)}" if present else path


def is_local(path: str) -> bool:
    """Whether `path` is a console path of this server (a safe place to send a browser back
    to after sign-in), not another site's."""
    return path.startswith(PREFIX) and not path.startswith("//") and "\\" not in path
