"""Data sets: the subset of CDF's that cognite-toolkit uses to file function code."""

from typing import Any

from pydantic import Field, field_validator

from fnhost.schemas.common import WireModel


class DataSetCreate(WireModel):
    external_id: str | None = Field(None, max_length=255)
    name: str | None = Field(None, max_length=50)
    description: str | None = Field(None, max_length=255)
    metadata: dict[str, str] | None = None
    write_protected: bool = False

    @field_validator("external_id", "name", "description", mode="before")
    @classmethod
    def _blank_to_none(cls, value: Any) -> Any:
        return None if value == "" else value


class DataSetsCreate(WireModel):
    items: list[DataSetCreate] = Field(min_length=1, max_length=10)


class DataSetRead(DataSetCreate):
    id: int
    created_time: int
    last_updated_time: int


class DataSetList(WireModel):
    limit: int = Field(25, ge=1, le=1000)
    cursor: str | None = None
