"""Jinja2 templates with autoescaping always on, and the formats every page shares.

Times are shown in UTC, as cron expressions are read: a schedule's "02:30" and a call's start
then read alike."""

import json
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.responses import HTMLResponse

from fnhost import clock
from fnhost.console import urls

if TYPE_CHECKING:
    from fnhost.console.auth import ProjectAccess

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("fnhost.console", "templates"),
    # On for every template, whatever its name: all user-typed and function-printed text is
    # escaped, and nothing here marks such text safe.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(ms: int | None) -> str:
    """Epoch ms as `2025-01-31 02:30:00 UTC`."""
    if ms is None:
        return "—"
    return clock.from_ms(ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(ms: int) -> str:
    """Epoch ms as ISO 8601, for `<time datetime>`."""
    return clock.from_ms(ms).isoformat()


def clock_time(ms: int | None) -> str:
    """Epoch ms as `02:30:00.123` (a log line's time)."""
    if ms is None:
        return ""
    return clock.from_ms(ms).strftime("%H:%M:%S.%f")[:-3]


def duration(ms: int | None) -> str:
    """A duration as a person reads it: `850 ms`, `4.2 s`, `3 min 12 s`, `2 h 5 min`."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def ago(ms: int | None, now: int | None = None) -> str:
    """How long before (or after) now: `3 min ago`, `in 2 h`."""
    if ms is None:
        return "never"
    now = clock.now_ms() if now is None else now
    delta = (now - ms) // 1000
    future = delta < 0
    delta = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if delta >= size or unit == "s":
            text = f"{delta // size} {unit}"
            break
    return f"in {text}" if future else f"{text} ago"


def pretty_json(value: Any) -> str:
    """JSON indented for reading."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


_environment.filters.update(
    when=when,
    iso=iso,
    clock_time=clock_time,
    duration=duration,
    ago=ago,
    pretty_json=pretty_json,
)
_environment.globals.update(urls=urls)


def render(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template rendered, never cached (it shows live state and a CSRF token)."""
    page = {"visitor": None, "access": None, "section": None, **context}
    body = _environment.get_template(name).render(**page)
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def project_page(
    access: "ProjectAccess", name: str, *, section: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page of a project, with its navigation and what the visitor may do there."""
    return render(
        name,
        status_code=status_code,
        visitor=access.visitor,
        access=access,
        section=section,
        **context,
    )
