"""Signing in and out, and choosing a project."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from fnhost import errors
from fnhost.console import auth, templating, urls
from fnhost.console.auth import VisitorDep
from fnhost.services import console_sessions
from fnhost.services import identity as identity_service

router = APIRouter()
MAX_PROJECT_NAME = 255


def _same_origin(request: Request) -> None:
    """Refuse a sign-in posted from another site (it would sign the browser in as someone
    else's token: login CSRF). Browsers send Origin with every POST."""
    origin = request.headers.get("origin")
    # Host and port only: behind a TLS proxy the scheme the server sees may differ.
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise errors.Forbidden("Sign in from this server's own sign-in page")


@router.get("/")
async def projects(request: Request, visitor: VisitorDep) -> Response:
    """The projects the visitor may open."""
    platform = auth.platform_of(request)
    inspection = await identity_service.inspect(platform, visitor.principal)
    names = [access.project_url_name for access in inspection.projects]
    if len(names) == 1 and not visitor.principal.all_projects:
        return RedirectResponse(urls.overview(names[0]), status_code=303)
    return templating.render(
        "projects.html",
        visitor=visitor,
        projects=names,
        all_projects=visitor.principal.all_projects,
    )


@router.get("/open")
async def open_project(visitor: VisitorDep, project: str = "") -> RedirectResponse:
    """Go to a project by name (one with nothing in it yet is not listed)."""
    name = project.strip()
    if not 1 <= len(name) <= MAX_PROJECT_NAME or "/" in name:
        raise errors.InvalidInput(f"A project name has 1 to {MAX_PROJECT_NAME} characters, no '/'")
    return RedirectResponse(urls.overview(name), status_code=303)


def _sign_in_form(*, next_path: str, error: str | None, client_id: str) -> Response:
    return templating.render(
        "sign_in.html",
        status_code=401 if error else 200,
        next_path=next_path if urls.is_local(next_path) else "",
        error=error,
        client_id=client_id,
    )


@router.get("/sign-in")
async def sign_in_page(next: str = "") -> Response:
    """The sign-in form: a bearer token, or a registered client's id and secret."""
    return _sign_in_form(next_path=next, error=None, client_id="")


@router.post("/sign-in")
async def sign_in(
    request: Request,
    method: Annotated[str, Form()] = "token",
    token: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    client_secret: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the credential and start a console session (a cookie holding its random key)."""
    _same_origin(request)
    platform = auth.platform_of(request)
    try:
        if method == "client":
            if not client_id.strip() or not client_secret:
                raise errors.Unauthenticated("Enter the client's id and its secret")
            session_key = await console_sessions.sign_in_with_client(
                platform, client_id=client_id, client_secret=client_secret
            )
        else:
            if not token.strip():
                raise errors.Unauthenticated("Paste a token")
            session_key = await console_sessions.sign_in_with_token(platform, token=token)
    except errors.Unauthenticated as error:
        return _sign_in_form(next_path=next, error=error.message, client_id=client_id)
    response = RedirectResponse(next if urls.is_local(next) else urls.home(), status_code=303)
    auth.set_session_cookie(
        response,
        request,
        session_key=session_key,
        max_age=platform.settings.console.console_session_max_hours * 3600,
    )
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, visitor: VisitorDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """End the session: its cookie stops working at once, on every copy of it."""
    visitor.check_csrf(csrf_token)
    await console_sessions.sign_out(auth.platform_of(request), session_key=visitor.session_key)
    response = RedirectResponse(urls.sign_in(), status_code=303)
    auth.clear_session_cookie(response)
    return response
