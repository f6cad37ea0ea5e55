"""The Files subset the SDK and the toolkit use to upload function code (spec section 7)."""

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from fnhost.schemas.common import MAX_ID, Identifier, TimeRange, WireModel


class FileCreate(WireModel):
    name: str = Field(min_length=1, max_length=256)
    external_id: str | None = Field(None, max_length=255)
    data_set_id: int | None = Field(None, ge=1, le=MAX_ID)
    mime_type: str | None = Field(None, max_length=256)
    directory: str | None = Field(None, max_length=512)
    source: str | None = Field(None, max_length=128)
    metadata: dict[str, str] | None = None

    @field_validator("external_id", "mime_type", "directory", "source", mode="before")
    @classmethod
    def _blank_to_none(cls, value: Any) -> Any:
        return None if value == "" else value


class FileRead(FileCreate):
    id: int
    uploaded: bool
    uploaded_time: int | None = None
    created_time: int
    last_updated_time: int
    upload_url: str | None = None


class DownloadLink(WireModel):
    id: int
    download_url: str


class FileFilter(WireModel):
    """The filter fields fnhost stores; others are refused, not ignored (the answer would be
    wrong)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    external_id_prefix: str | None = Field(None, max_length=255)
    directory_prefix: str | None = Field(None, max_length=512)
    mime_type: str | None = None
    source: str | None = None
    metadata: dict[str, str] | None = None
    data_set_ids: list[Identifier] | None = Field(None, max_length=100)
    uploaded: bool | None = None
    created_time: TimeRange | None = None
    last_updated_time: TimeRange | None = None
    uploaded_time: TimeRange | None = None


class FileList(WireModel):
    model_config = ConfigDict(extra="forbid")

    filter: FileFilter | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None


class FileAggregate(WireModel):
    filter: FileFilter | None = None


class FileUploadLinks(WireModel):
    items: list[Identifier] = Field(min_length=1, max_length=100)


class MultipartUpload(FileRead):
    """A file whose bytes are uploaded in parts: one PUT to each URL, then complete."""

    upload_urls: list[str]
    upload_id: str


class MultipartComplete(WireModel):
    id: int = Field(ge=1, le=MAX_ID)
    upload_id: str = Field(min_length=1)
