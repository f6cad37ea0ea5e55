"""Function wire models (spec F1-F6, L1, A1)."""

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from fnhost.lifecycle import FunctionStatus
from fnhost.schemas.common import MAX_ID, TimeRange, WireModel

SECRET_KEY = re.compile(r"^[a-z0-9-]{1,15}$")
ENV_VAR_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_SECRETS = 30
MAX_ENV_VARS = 100
MAX_METADATA = 16


def _blank_to_none(value: Any) -> Any:
    # SDK v6 sends "" for unset strings; an empty string means "not set" on the wire.
    return None if value == "" else value


class FunctionCreate(WireModel):
    name: str = Field(min_length=1, max_length=140)
    file_id: int = Field(ge=1, le=MAX_ID)
    external_id: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=500)
    owner: str | None = Field(None, max_length=128)
    function_path: str = Field("handler.py", min_length=1, max_length=500)
    secrets: dict[str, str] | None = None
    env_vars: dict[str, str] | None = None
    cpu: float | None = Field(None, gt=0)
    memory: float | None = Field(None, gt=0)
    runtime: str | None = None
    metadata: dict[str, str] | None = None
    index_url: str | None = None
    extra_index_urls: list[str] | None = None

    _blanks = field_validator(
        "external_id", "description", "owner", "runtime", "index_url", mode="before"
    )(_blank_to_none)

    @field_validator("function_path", mode="before")
    @classmethod
    def _default_path(cls, value: Any) -> Any:
        return "handler.py" if value in (None, "") else value

    @field_validator("function_path")
    @classmethod
    def _relative_python_path(cls, value: str) -> str:
        parts = value.split("/")
        if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
            raise ValueError("functionPath must be a relative POSIX path such as 'pkg/handler.py'")
        if not value.endswith(".py"):
            raise ValueError("functionPath must name a .py file")
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > MAX_SECRETS:
            raise ValueError(f"at most {MAX_SECRETS} secrets are allowed")
        for key in value:
            if not SECRET_KEY.match(key):
                raise ValueError(
                    f"secret key {key!r} must be 1-15 lowercase letters, digits or dashes"
                )
        return value

    @field_validator("env_vars")
    @classmethod
    def _env_vars(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > MAX_ENV_VARS:
            raise ValueError(f"at most {MAX_ENV_VARS} envVars are allowed")
        for key in value:
            if not ENV_VAR_KEY.match(key):
                raise ValueError(f"envVars key {key!r} must be letters, digits and underscores")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > MAX_METADATA:
            raise ValueError(f"metadata may hold at most {MAX_METADATA} pairs")
        for key, item in value.items():
            if not 1 <= len(key) <= 32:
                raise ValueError(f"metadata key {key!r} must be 1-32 characters")
            if len(item) > 512:
                raise ValueError(f"metadata value of {key!r} is longer than 512 characters")
        return value


class FunctionError(WireModel):
    message: str
    trace: str | None = None


class FunctionRead(WireModel):
    id: int
    name: str
    external_id: str | None = None
    description: str | None = None
    owner: str | None = None
    status: FunctionStatus
    file_id: int
    function_path: str
    created_time: int
    secrets: dict[str, str] | None = None
    env_vars: dict[str, str] | None = None
    cpu: float
    memory: float
    runtime: str
    runtime_version: str | None = None
    metadata: dict[str, str] | None = None
    error: FunctionError | None = None
    last_called: int | None = None


class FunctionFilter(WireModel):
    name: str | None = None
    owner: str | None = None
    file_id: int | None = Field(None, ge=1, le=MAX_ID)
    status: FunctionStatus | None = None
    external_id_prefix: str | None = None
    created_time: TimeRange | None = None
    metadata: dict[str, str] | None = None


class FunctionList(WireModel):
    filter: FunctionFilter | None = None
    limit: int = Field(100, ge=1, le=10_000)
    cursor: str | None = None


class Range(WireModel):
    min: float
    max: float
    default: float


class Limits(WireModel):
    timeout_minutes: int
    cpu_cores: Range
    memory_gb: Range
    runtimes: list[str]
    response_size_mb: int


class ActivationStatus(WireModel):
    status: Literal["inactive", "requested", "activated"]
    # fnhost's own, ignored by the SDK: how function code is isolated ("bwrap" or "none"),
    # what holds its CPU and memory ("cgroup v1", "cgroup v2" or "rlimits"), and whether a
    # seccomp filter refuses the system calls it never needs.
    isolation: str | None = None
    resources: str | None = None
    seccomp: bool | None = None
