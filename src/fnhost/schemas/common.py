"""Shapes shared by every resource: identifiers, by-ids requests, time ranges."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from fnhost import errors

MAX_ID = 2**53 - 1
# Epoch milliseconds must fit the databases' 64-bit integers.
MAX_TIMESTAMP = 2**63 - 1


class WireModel(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields ignored like CDF does."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        """The JSON body: camelCase, with unset optional fields left out (never null)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Identifier(WireModel):
    """`{"id": n}` or `{"externalId": "s"}`: exactly one of the two."""

    id: int | None = Field(None, ge=1, le=MAX_ID)
    external_id: str | None = Field(None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Identifier":
        if (self.id is None) == (self.external_id is None):
            raise ValueError("each item must have exactly one of 'id' and 'externalId'")
        return self

    def wire(self) -> dict[str, Any]:
        return {"id": self.id} if self.id is not None else {"externalId": self.external_id}


class InternalId(WireModel):
    id: int = Field(ge=1, le=MAX_ID)


class ByIds(WireModel):
    items: list[Identifier] = Field(min_length=1, max_length=10_000)
    ignore_unknown_ids: bool | None = False


class ByInternalIds(WireModel):
    items: list[InternalId] = Field(min_length=1, max_length=10_000)
    ignore_unknown_ids: bool | None = False


class TimeRange(WireModel):
    min: int | None = Field(None, ge=0, le=MAX_TIMESTAMP)
    max: int | None = Field(None, ge=0, le=MAX_TIMESTAMP)


class EmptyObject(WireModel):
    pass


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """Validation errors (pydantic's, or FastAPI's of a request) as one line a person can act
    on: `field: problem; field: problem`."""
    messages = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        messages.append(f"{location}: {message}" if location else message)
    return "; ".join(messages)


Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], fields: Mapping[str, Any]) -> Model:
    """`fields` (by wire name) as a `model`; InvalidInput naming each bad field otherwise."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise errors.InvalidInput(describe_errors(error.errors())) from None
