"""Deploying from the browser: upload a zip or a handler.py, with the function's fields; the
function's page then shows it go Queued, Deploying, Ready (or Failed, with why) live."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from fnhost import errors
from fnhost.console import auth, forms, templating, urls
from fnhost.console.auth import ProjectDep
from fnhost.services import functions as functions_service
from fnhost.services import uploads as uploads_service

router = APIRouter()
TEXT_FIELDS = (
    "name",
    "external_id",
    "description",
    "owner",
    "function_path",
    "runtime",
    "cpu",
    "memory",
    "env_vars",
    "secrets",
    "metadata",
)
# A form's other parts (all but the file) are small: this much covers every field's limit.
FORM_OVERHEAD_BYTES = 256 * 1024


def _form_page(
    request: Request,
    access: auth.ProjectAccess,
    *,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return templating.project_page(
        access,
        "deploy.html",
        section="deploy",
        status_code=status_code,
        limits=functions_service.limits(auth.platform_of(request)),
        values=values,
        error=error,
    )


@router.get("/p/{project}/deploy")
async def deploy_page(request: Request, access: ProjectDep) -> Response:
    """The deploy form."""
    access.require(access.can_deploy, "deploy functions")
    return _form_page(request, access, values={"function_path": "handler.py"})


def _fields(values: dict[str, str]) -> dict[str, Any]:
    """The function's wire fields from the form's text."""

    def text(key: str) -> str | None:
        return values.get(key, "").strip() or None

    return {
        "name": values.get("name", "").strip(),
        "externalId": text("external_id"),
        "description": text("description"),
        "owner": text("owner"),
        "functionPath": text("function_path") or "handler.py",
        "runtime": text("runtime"),
        "cpu": forms.optional_number(values.get("cpu", ""), what="CPU"),
        "memory": forms.optional_number(values.get("memory", ""), what="Memory"),
        "envVars": forms.pairs(values.get("env_vars", ""), what="Environment variables"),
        "secrets": forms.pairs(values.get("secrets", ""), what="Secrets"),
        "metadata": forms.pairs(values.get("metadata", ""), what="Metadata"),
    }


@router.post("/p/{project}/deploy")
async def deploy(request: Request, access: ProjectDep) -> Response:
    """Store the upload and create the function from it; its page opens, live."""
    platform = auth.platform_of(request)
    limit = platform.settings.builds.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
        raise errors.PayloadTooLarge(
            f"The upload is larger than {limit} bytes (FNHOST_UPLOAD_MAX_BYTES)"
        )
    form = await request.form(max_files=1, max_fields=len(TEXT_FIELDS) + 2)
    csrf = form.get(auth.CSRF_FIELD)
    access.visitor.check_csrf(csrf if isinstance(csrf, str) else "")
    access.require(access.can_deploy, "deploy functions")
    values = {key: value for key in TEXT_FIELDS if isinstance(value := form.get(key), str)}
    upload = form.get("code")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise errors.InvalidInput("Choose the code to upload: a .zip or a handler.py")
        content = await upload.read(limit + 1)
        created = await uploads_service.deploy(
            platform,
            project=access.project,
            filename=upload.filename,
            content=content,
            fields=_fields(values),
        )
    except errors.FnhostError as error:
        status = request.app.state.status_of(error)
        return _form_page(request, access, values=values, error=error.message, status_code=status)
    finally:
        await form.close()
    return RedirectResponse(urls.function(access.project, created.id), status_code=303)
