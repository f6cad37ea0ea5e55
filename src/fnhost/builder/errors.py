"""The one way a build fails: a message a person can act on, and the details behind it."""


class BuildFailed(Exception):
    def __init__(self, message: str, trace: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.trace = trace
