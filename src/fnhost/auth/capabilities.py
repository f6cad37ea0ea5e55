"""Capabilities as CDF spells them: `ACL:ACTION`, e.g. `functionsAcl:READ`."""

from collections import defaultdict
from typing import Any

FUNCTIONS_READ = "functionsAcl:READ"
FUNCTIONS_WRITE = "functionsAcl:WRITE"
FUNCTIONS_RUN = "functionsAcl:RUN"
FILES_READ = "filesAcl:READ"
FILES_WRITE = "filesAcl:WRITE"
SESSIONS_CREATE = "sessionsAcl:CREATE"
SESSIONS_LIST = "sessionsAcl:LIST"
SESSIONS_DELETE = "sessionsAcl:DELETE"
DATASETS_READ = "datasetsAcl:READ"
DATASETS_WRITE = "datasetsAcl:WRITE"
# fnhost's own, for operators (no CDF ACL): read this server's Prometheus metrics.
METRICS_READ = "metricsAcl:READ"

ALL = (
    FUNCTIONS_READ,
    FUNCTIONS_WRITE,
    FUNCTIONS_RUN,
    FILES_READ,
    FILES_WRITE,
    SESSIONS_CREATE,
    SESSIONS_LIST,
    SESSIONS_DELETE,
    DATASETS_READ,
    DATASETS_WRITE,
)
# Capabilities CDF does not have: never shown as CDF ACLs (token/inspect).
OWN = (METRICS_READ,)
KNOWN = ALL + OWN


def parse(text: str) -> str:
    """Validate `text` as one known capability and return it."""
    if text not in KNOWN:
        raise ValueError(f"unknown capability {text!r}; known: {', '.join(KNOWN)}")
    return text


def as_cdf(capabilities: frozenset[str], projects: frozenset[str] | None) -> list[dict[str, Any]]:
    """Capabilities in the shape of CDF's token/inspect: one entry per ACL with its actions."""
    actions: dict[str, list[str]] = defaultdict(list)
    for capability in sorted(capabilities - set(OWN)):
        acl, action = capability.split(":")
        actions[acl].append(action)
    project_scope: dict[str, Any] = (
        {"allProjects": {}} if projects is None else {"projects": sorted(projects)}
    )
    return [
        {acl: {"actions": acts, "scope": {"all": {}}}, "projectScope": project_scope}
        for acl, acts in actions.items()
    ]
