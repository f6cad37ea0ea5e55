"""CDF's update objects: `{"set": value}` or `{"setNull": true}` for a field, and
`{"set": {...}}` or `{"add": {...}, "remove": [...]}` for a map such as `metadata`."""

from typing import Generic, TypeVar

from pydantic import ConfigDict, model_validator

from fnhost.schemas.common import WireModel

V = TypeVar("V")


class _Update(WireModel):
    # An update operation misspelled must not pass as "no change".
    model_config = ConfigDict(extra="forbid")


class SetValue(_Update, Generic[V]):
    """`{"set": value}`: a field that cannot be null."""

    set: V


class SetOrNull(_Update, Generic[V]):
    """`{"set": value}` or `{"setNull": true}`."""

    set: V | None = None
    set_null: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> "SetOrNull[V]":
        if (self.set is None) == (not self.set_null):
            raise ValueError('give either {"set": value} or {"setNull": true}')
        return self

    @property
    def value(self) -> V | None:
        return self.set


class MapUpdate(_Update):
    """`{"set": {...}}` replaces the map; `{"add": {...}, "remove": [keys]}` changes it."""

    set: dict[str, str] | None = None
    add: dict[str, str] | None = None
    remove: list[str] | None = None

    @model_validator(mode="after")
    def _set_or_change(self) -> "MapUpdate":
        changes = self.add is not None or self.remove is not None
        if (self.set is not None) == changes:
            raise ValueError('give either {"set": {...}} or "add" and/or "remove"')
        return self

    def applied(self, current: dict[str, str] | None) -> dict[str, str]:
        """The map after this update: keys removed first, then those added."""
        if self.set is not None:
            return dict(self.set)
        kept = {k: v for k, v in (current or {}).items() if k not in set(self.remove or ())}
        return kept | (self.add or {})
