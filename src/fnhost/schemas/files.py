"""The Files subset the SDK and the toolkit use to upload function code (spec section 7)."""

from typing import Any

from pydantic import Field, field_validator

from fnhost.schemas.common import MAX_ID, WireModel


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
