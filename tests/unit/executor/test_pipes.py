"""A call's output turned into log lines."""

from fnhost.executor.pipes import LogLines


def _lines(chunks: list[bytes], *, max_line_bytes: int = 10) -> list[str]:
    logged: list[str] = []
    split = LogLines(lambda _timestamp, line: logged.append(line), max_line_bytes=max_line_bytes)
    for chunk in [*chunks, b""]:
        split(chunk)
    return logged


def test_lines_are_split_across_chunks_and_the_last_may_lack_its_newline() -> None:
    assert _lines([b"one\ntw", b"o\r\nthr", b"ee"]) == ["one", "two", "three"]


def test_a_line_longer_than_the_limit_is_cut_and_its_rest_dropped() -> None:
    chunks = [b"short\n", b"x" * 7, b"x" * 7, b"x" * 100, b"yy\nafter\n"]
    assert _lines(chunks) == ["short", "x" * 11, "after"]


def test_an_endless_line_is_not_kept() -> None:
    logged: list[str] = []
    split = LogLines(lambda _timestamp, line: logged.append(line), max_line_bytes=100)
    for _ in range(10_000):
        split(b"z" * 4096)
    split(b"\nnext\n")
    assert logged == ["z" * 101, "next"]
