"""JSON responses rendered with orjson from wire dictionaries."""

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from fnhost.schemas.common import WireModel


class WireJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def wire(model: WireModel, status_code: int = 200) -> WireJSON:
    return WireJSON(model.wire(), status_code=status_code)


def items(models: list[Any], next_cursor: str | None = None, status_code: int = 200) -> WireJSON:
    body: dict[str, Any] = {"items": [m.wire() for m in models]}
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    return WireJSON(body, status_code=status_code)
