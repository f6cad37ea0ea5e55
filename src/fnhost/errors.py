"""Domain errors. Services raise them; the API maps each class to an HTTP status in one table.

Each class's docstring is its default message.
"""

from typing import Any

Identifier = dict[str, Any]


class FnhostError(Exception):
    """Something went wrong."""

    def __init__(
        self,
        message: str | None = None,
        *,
        missing: list[Identifier] | None = None,
        duplicated: list[Identifier] | None = None,
    ) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.missing = missing or []
        self.duplicated = duplicated or []
        super().__init__(self.message)


class InvalidInput(FnhostError):
    """The request is not valid."""


class NotFound(FnhostError):
    """Not found."""


class Conflict(FnhostError):
    """The resource already exists."""


class Unauthenticated(FnhostError):
    """Missing or invalid bearer token."""


class Forbidden(FnhostError):
    """The token lacks the capability this request needs."""


class PayloadTooLarge(FnhostError):
    """The request body is too large."""


class TooManyRequests(FnhostError):
    """Too many calls are running or waiting; try again later."""


class BadGateway(FnhostError):
    """The upstream CDF could not be reached."""


class GatewayTimeout(FnhostError):
    """The upstream CDF did not answer in time."""
