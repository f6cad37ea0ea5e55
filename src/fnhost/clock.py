"""The one place that reads the wall clock, so tests can freeze time."""

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def to_ms(at: datetime) -> int:
    """Epoch milliseconds, the unit of every timestamp on the wire."""
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The inverse of `to_ms`."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return to_ms(now())
