"""The Files subset used to upload, find and download function code."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from fnhost import errors
from fnhost.api import responses
from fnhost.api.deps import PlatformDep, require
from fnhost.api.responses import WireJSON
from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Principal
from fnhost.schemas.common import MAX_ID, ByIds, EmptyObject, Identifier
from fnhost.schemas.files import (
    DownloadLink,
    FileAggregate,
    FileCreate,
    FileList,
    FileRead,
    FileUploadLinks,
    MultipartComplete,
    MultipartUpload,
)
from fnhost.services import files as files_service
from fnhost.services import multipart

router = APIRouter(tags=["files"])
PREFIX = "/api/v1/projects/{project}/files"

Reader = Annotated[Principal, Depends(require(caps.FILES_READ))]
Writer = Annotated[Principal, Depends(require(caps.FILES_WRITE))]


def _parse_bool(value: str) -> bool:
    # The SDK sends overwrite=true (v8, httpx) or overwrite=True (v7/v6, requests).
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise errors.InvalidInput(f"overwrite must be true or false, not {value!r}")
    return lowered == "true"


@router.post(PREFIX, status_code=201)
async def create_file(
    request: Request,
    project: str,
    body: FileCreate,
    platform: PlatformDep,
    _: Writer,
    overwrite: str = "false",
) -> WireJSON:
    """Create a file entry; upload its bytes with a PUT to the returned `uploadUrl`."""
    created, upload_key = await files_service.create(
        platform, project=project, body=body, overwrite=_parse_bool(overwrite)
    )
    created.upload_url = str(request.url_for("upload_file", upload_key=upload_key))
    return responses.wire(created, status_code=201)


UPLOAD_PREFIX = "/api/v1/files/upload/"
# Upload URLs take their body by hand (any bytes, whatever their Content-Type), and the URL is
# the credential: both are said here for the OpenAPI document.
RAW_UPLOAD = {
    "security": [],
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}


def _in_parts(request: Request, file: FileRead, upload_key: str, parts: int) -> MultipartUpload:
    """`file` with an upload URL for each of its parts, and the id that completes them."""
    urls = [
        str(request.url_for("upload_part", upload_key=upload_key, part=str(part)))
        for part in range(parts)
    ]
    upload_id = multipart.upload_id_of(upload_key, parts)
    return MultipartUpload(**file.model_dump(), upload_urls=urls, upload_id=upload_id)


@router.post(PREFIX + "/initmultipartupload", status_code=201)
async def start_multipart_upload(
    request: Request,
    project: str,
    body: FileCreate,
    platform: PlatformDep,
    _: Writer,
    parts: int,
    overwrite: str = "false",
) -> WireJSON:
    """Create a file entry whose bytes come in `parts`: a PUT to each of `uploadUrls`, then
    `completemultipartupload`."""
    created, upload_key = await multipart.start(
        platform, project=project, body=body, overwrite=_parse_bool(overwrite), parts=parts
    )
    return responses.wire(_in_parts(request, created, upload_key, parts), status_code=201)


@router.post(PREFIX + "/multiuploadlink")
async def restart_multipart_upload(
    request: Request,
    project: str,
    body: FileUploadLinks,
    platform: PlatformDep,
    _: Writer,
    parts: int,
) -> WireJSON:
    """New bytes for an existing file, in `parts` (one file per request)."""
    if len(body.items) != 1:
        raise errors.InvalidInput("multiuploadlink takes exactly one file")
    file, upload_key = await multipart.restart(
        platform, project=project, item=body.items[0], parts=parts
    )
    return responses.items([_in_parts(request, file, upload_key, parts)])


@router.post(PREFIX + "/completemultipartupload")
async def complete_multipart_upload(
    project: str, body: MultipartComplete, platform: PlatformDep, _: Writer
) -> WireJSON:
    """Join the uploaded parts: the file is `uploaded` once this returns."""
    await multipart.complete(platform, project=project, file_id=body.id, upload_id=body.upload_id)
    return responses.wire(EmptyObject())


@router.put(UPLOAD_PREFIX + "{upload_key}/{part}", name="upload_part", openapi_extra=RAW_UPLOAD)
async def upload_part(
    upload_key: str,
    part: Annotated[int, Path(ge=0, lt=multipart.MAX_PARTS)],
    request: Request,
    platform: PlatformDep,
) -> WireJSON:
    """Upload one part of a multipart upload. The URL itself is the credential."""
    await multipart.put_part(
        platform, upload_key=upload_key, part=part, content=await request.body()
    )
    return responses.wire(EmptyObject())


@router.post(PREFIX + "/uploadlink")
async def upload_links(
    request: Request, project: str, body: FileUploadLinks, platform: PlatformDep, _: Writer
) -> WireJSON:
    """New upload URLs for existing files: the next upload to one replaces the file's bytes."""
    linked = await files_service.new_upload_keys(platform, project=project, items=body.items)
    for file, upload_key in linked:
        file.upload_url = str(request.url_for("upload_file", upload_key=upload_key))
    return responses.items([file for file, _ in linked])


@router.post(PREFIX + "/list")
async def list_files(
    project: str, platform: PlatformDep, _: Reader, body: FileList | None = None
) -> WireJSON:
    """List files matching a filter."""
    body = body or FileList()
    found, cursor = await files_service.list_files(
        platform, project=project, filter=body.filter, limit=body.limit, cursor=body.cursor
    )
    return responses.items(found, cursor)


@router.post(PREFIX + "/aggregate")
async def count_files(
    project: str, platform: PlatformDep, _: Reader, body: FileAggregate | None = None
) -> WireJSON:
    """Count the files matching a filter."""
    body = body or FileAggregate()
    count = await files_service.count(platform, project=project, filter=body.filter)
    return WireJSON({"items": [{"count": count}]})


@router.put(UPLOAD_PREFIX + "{upload_key}", name="upload_file", openapi_extra=RAW_UPLOAD)
async def upload_file(upload_key: str, request: Request, platform: PlatformDep) -> WireJSON:
    """Upload a file's bytes. The URL itself is the credential (SDK v7/v6 send no token)."""
    await files_service.upload(platform, upload_key=upload_key, content=await request.body())
    return responses.wire(EmptyObject())


@router.post(PREFIX + "/byids")
async def retrieve_files(project: str, body: ByIds, platform: PlatformDep, _: Reader) -> WireJSON:
    """Retrieve file metadata by id or external id."""
    found = await files_service.retrieve(
        platform, project=project, items=body.items, ignore_unknown=bool(body.ignore_unknown_ids)
    )
    return responses.items(found)


@router.post(PREFIX + "/delete")
async def delete_files(project: str, body: ByIds, platform: PlatformDep, _: Writer) -> WireJSON:
    """Delete files (deployed functions keep their own snapshot of the code)."""
    await files_service.delete(
        platform, project=project, items=body.items, ignore_unknown=bool(body.ignore_unknown_ids)
    )
    return responses.wire(EmptyObject())


@router.post(PREFIX + "/downloadlink")
async def download_links(
    request: Request, project: str, body: ByIds, platform: PlatformDep, _: Reader
) -> WireJSON:
    """Links that download the files' bytes without a token."""
    links = await files_service.download_links(platform, project=project, items=body.items)
    return responses.items(
        [
            DownloadLink(
                id=file_id,
                download_url=str(request.url_for("download_file", file_id=file_id, token=token)),
            )
            for file_id, token in links
        ]
    )


@router.get(
    "/api/v1/files/download/{file_id}/{token}",
    name="download_file",
    response_class=Response,
    responses={200: {"description": "The file's bytes, as its mimeType", "content": {"*/*": {}}}},
    openapi_extra={"security": []},  # the link is the credential
)
async def download_file(
    file_id: Annotated[int, Path(ge=1, le=MAX_ID)], token: str, platform: PlatformDep
) -> Response:
    """The bytes behind a download link."""
    found = await files_service.download(platform, file_id=file_id, token=token)
    return Response(found.content, media_type=found.media_type)


@router.get(PREFIX + "/{fileId}")
async def get_file(
    project: str,
    file_id: Annotated[int, Path(alias="fileId", ge=1, le=MAX_ID)],
    platform: PlatformDep,
    _: Reader,
) -> WireJSON:
    """Retrieve one file's metadata."""
    found = await files_service.retrieve(
        platform, project=project, items=[Identifier(id=file_id)], ignore_unknown=False
    )
    return responses.wire(found[0])
