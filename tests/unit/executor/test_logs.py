import asyncio

from fnhost.executor.logs import CallLogBuffer


async def test_lines_are_flushed_in_order_and_capped_with_a_marker() -> None:
    stored: list[tuple[int, str]] = []

    async def flush(lines: list[tuple[int, str]]) -> None:
        await asyncio.sleep(0.01)  # a slow database must not lose lines at close
        stored.extend(lines)

    buffer = CallLogBuffer(flush, max_bytes=50, max_line_chars=80)
    for i in range(20):
        buffer.add(i, f"line {i}")
    await buffer.close()
    messages = [message for _, message in stored]
    assert messages[:7] == [f"line {i}" for i in range(7)]
    assert "log output truncated" in messages[-1]
    assert "FNHOST_CALL_LOG_MAX_BYTES" in messages[-1]
    assert len(messages) == 8


async def test_long_lines_are_cut() -> None:
    stored: list[tuple[int, str]] = []

    async def flush(lines: list[tuple[int, str]]) -> None:
        stored.extend(lines)

    buffer = CallLogBuffer(flush, max_bytes=10_000, max_line_chars=100)
    buffer.add(1, "x" * 500)
    await buffer.close()
    assert stored == [(1, "x" * 100 + " [line truncated]")]


async def test_lines_are_written_while_the_call_runs_and_a_silent_call_writes_nothing() -> None:
    stored: list[list[tuple[int, str]]] = []

    async def flush(lines: list[tuple[int, str]]) -> None:
        stored.append(lines)

    silent = CallLogBuffer(flush, max_bytes=10_000, max_line_chars=100)
    await silent.close()
    assert stored == []

    buffer = CallLogBuffer(flush, max_bytes=10_000, max_line_chars=100)
    buffer.add(1, "first")
    await asyncio.sleep(0.05)  # the call still runs: its first line is stored already
    assert stored == [[(1, "first")]]
    buffer.add(2, "second")
    await buffer.close()
    assert stored == [[(1, "first")], [(2, "second")]]
