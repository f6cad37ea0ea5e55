"""The authenticated caller of a request."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """A subject with capabilities in some projects (`projects=None`: every project)."""

    subject: str
    projects: frozenset[str] | None
    capabilities: frozenset[str]
    session_id: int | None = None

    def in_project(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    def can(self, project: str, *capabilities: str) -> bool:
        """True when the principal is in `project` and holds any of `capabilities`."""
        return self.in_project(project) and any(c in self.capabilities for c in capabilities)
