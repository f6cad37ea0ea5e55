"""The server's JSON log lines: one object a line, with the ids of what is being handled."""

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from fnhost import log_context
from fnhost.cli import server_logs


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What a logger writes through the JSON handler `server_logs` sets up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(server_logs.json_formatter())
    handler.addFilter(log_context.ContextIds())
    logger = logging.getLogger("fnhost.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_has_time_level_logger_message_and_extra(lines: io.StringIO) -> None:
    logging.getLogger("fnhost.test").warning(
        "built %s", "x", extra={"action": "built", "color_message": "\x1b[1mx"}
    )

    (record,) = records(lines)
    assert record["message"] == "built x"
    assert (record["level"], record["logger"], record["action"]) == (
        "WARNING",
        "fnhost.test",
        "built",
    )
    assert record["time"].endswith("+00:00")
    assert "color_message" not in record


def test_each_task_logs_the_ids_it_bound(lines: io.StringIO) -> None:
    async def call(call_id: int) -> None:
        log_context.bind(project="p", call_id=call_id)
        await asyncio.sleep(0)
        logging.getLogger("fnhost.test").info("call %d", call_id)

    async def main() -> None:
        log_context.bind(request_id="r1")
        await asyncio.gather(call(1), call(2))
        logging.getLogger("fnhost.test").info("after")

    asyncio.run(main())

    by_message = {r["message"]: r for r in records(lines)}
    assert by_message["call 1"]["call_id"] == 1 and by_message["call 2"]["call_id"] == 2
    assert by_message["call 1"]["request_id"] == "r1"  # inherited from the creating task
    assert "call_id" not in by_message["after"]


def test_an_id_in_extra_wins_and_exceptions_are_text(lines: io.StringIO) -> None:
    async def main() -> None:
        log_context.bind(call_id=7)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("fnhost.test").exception("failed", extra={"call_id": 8})

    asyncio.run(main())

    (record,) = records(lines)
    assert record["call_id"] == 8
    assert "ValueError: boom" in record["exception"]
