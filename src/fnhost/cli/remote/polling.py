"""How often the client commands ask a server whether something changed."""

from collections.abc import Iterator

FIRST_SECONDS = 0.1
MOST_SECONDS = 1.0


def delays() -> Iterator[float]:
    """Pauses between polls: short at first (most builds and calls end within a second), then
    one a second, so a follower sees a new log line within a second."""
    delay = FIRST_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, MOST_SECONDS)
