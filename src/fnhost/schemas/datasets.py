"""Data sets: the subset of CDF's that cognite-toolkit uses to file function code."""

from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from fnhost.schemas.common import Identifier, TimeRange, WireModel
from fnhost.schemas.updates import MapUpdate, SetOrNull, SetValue

ExternalId = Annotated[str, Field(max_length=255)]
Name = Annotated[str, Field(max_length=50)]
Description = Annotated[str, Field(max_length=255)]


class DataSetCreate(WireModel):
    external_id: ExternalId | None = None
    name: Name | None = None
    description: Description | None = None
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


class DataSetFilter(WireModel):
    # A filter field fnhost does not know must not be ignored: the answer would be wrong.
    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, str] | None = None
    created_time: TimeRange | None = None
    last_updated_time: TimeRange | None = None
    external_id_prefix: ExternalId | None = None
    write_protected: bool | None = None


class DataSetList(WireModel):
    filter: DataSetFilter | None = None
    limit: int = Field(25, ge=1, le=1000)
    cursor: str | None = None


class DataSetAggregate(WireModel):
    filter: DataSetFilter | None = None


class DataSetChanges(WireModel):
    model_config = ConfigDict(extra="forbid")

    external_id: SetOrNull[ExternalId] | None = None
    name: SetOrNull[Name] | None = None
    description: SetOrNull[Description] | None = None
    metadata: MapUpdate | None = None
    write_protected: SetValue[bool] | None = None


class DataSetUpdate(Identifier):
    update: DataSetChanges


class DataSetsUpdate(WireModel):
    items: list[DataSetUpdate] = Field(min_length=1, max_length=1000)
