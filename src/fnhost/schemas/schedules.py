"""Function schedule wire models (spec S1-S6)."""

from typing import Any

from pydantic import Field, field_validator, model_validator

from fnhost import cron
from fnhost.schemas.common import MAX_ID, TimeRange, WireModel


class ScheduleCreate(WireModel):
    name: str = Field(min_length=1, max_length=140)
    cron_expression: str = Field(min_length=1, max_length=1024)
    function_id: int | None = Field(None, ge=1, le=MAX_ID)
    # Deprecated in CDF; SDK v6 sends it as null next to functionId.
    function_external_id: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=500)
    data: dict[str, Any] | None = None
    nonce: str | None = None

    @field_validator("cron_expression")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return cron.validate(value)


class ScheduleRead(WireModel):
    id: int
    name: str
    function_id: int
    function_external_id: str | None = None
    description: str | None = None
    cron_expression: str
    when: str
    session_id: int
    created_time: int


class ScheduleFilter(WireModel):
    name: str | None = None
    function_id: int | None = Field(None, ge=1, le=MAX_ID)
    function_external_id: str | None = None
    created_time: TimeRange | None = None
    cron_expression: str | None = None

    @model_validator(mode="after")
    def _one_function(self) -> "ScheduleFilter":
        if self.function_id is not None and self.function_external_id is not None:
            raise ValueError("filter by functionId or functionExternalId, not both")
        return self


class ScheduleList(WireModel):
    filter: ScheduleFilter | None = None
    limit: int = Field(100, ge=1, le=10_000)
    cursor: str | None = None


class ScheduleInputData(WireModel):
    id: int
    data: dict[str, Any] | None = None
