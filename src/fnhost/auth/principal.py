"""The authenticated caller of a request."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Grant:
    """Capabilities held in some projects (`projects=None`: every project)."""

    projects: frozenset[str] | None
    capabilities: frozenset[str]

    def covers(self, project: str) -> bool:
        return self.projects is None or project in self.projects


@dataclass(frozen=True)
class IssuerToken:
    """The identity provider's JWT a caller authenticated with: the one credential fnhost may
    pass on to the upstream CDF (never shown: no repr)."""

    token: str = field(repr=False)
    expires_ms: int


@dataclass(frozen=True)
class Principal:
    """A subject and its grants; an OIDC user may hold different capabilities per project."""

    subject: str
    grants: tuple[Grant, ...]
    session_id: int | None = None
    # Set when the caller authenticated with a JWT of a trusted issuer.
    issuer_token: IssuerToken | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(
        cls,
        subject: str,
        *,
        projects: frozenset[str] | None,
        capabilities: frozenset[str],
        session_id: int | None = None,
    ) -> "Principal":
        """A principal with one grant: the same capabilities in each of `projects`."""
        return cls(subject, (Grant(projects, capabilities),), session_id)

    @property
    def all_projects(self) -> bool:
        return any(grant.projects is None for grant in self.grants)

    @property
    def projects(self) -> frozenset[str]:
        """The projects named by the grants (meaningless when `all_projects`)."""
        return frozenset(p for grant in self.grants for p in grant.projects or ())

    def in_project(self, project: str) -> bool:
        return any(grant.covers(project) for grant in self.grants)

    def capabilities_in(self, project: str) -> frozenset[str]:
        """Every capability the principal holds in `project`."""
        held: set[str] = set()
        for grant in self.grants:
            if grant.covers(project):
                held |= grant.capabilities
        return frozenset(held)

    def holds_everywhere(self, capability: str) -> bool:
        """True when a grant of every project carries `capability` (server-wide rights)."""
        return any(g.projects is None and capability in g.capabilities for g in self.grants)

    def can(self, project: str, *capabilities: str) -> bool:
        """True when the principal holds any of `capabilities` in `project`."""
        return not self.capabilities_in(project).isdisjoint(capabilities)
