"""How a server process's log lines look on stderr: readable text, or one JSON object a line."""

import logging
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

from fnhost import log_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """time, level, logger and message, then the context's ids and the record's `extra`."""
    return OrjsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",
        # uvicorn repeats its startup message with terminal colours for its own formatter.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def configure(log_format: Literal["text", "json"]) -> None:
    """Send every log line (uvicorn's and Python warnings too) to stderr in `log_format`."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(json_formatter())
        handler.addFilter(log_context.ContextIds())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)
