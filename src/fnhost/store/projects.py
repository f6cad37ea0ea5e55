"""Projects: the namespaces named by URLs, as rows once something names them."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from fnhost.store.engine import Tx
from fnhost.store.rows import records
from fnhost.store.tables import Project, table_of

PROJECTS = table_of(Project)


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    name: str
    created_time: int


def name(tx: Tx, *, projects: Iterable[str], now_ms: int) -> None:
    """Make `projects` exist; those that already do are left as they are."""
    rows = [{"name": project, "created_time": now_ms} for project in sorted(set(projects))]
    if not rows:
        return
    dialect_insert = postgresql.insert if tx.dialect.name == "postgresql" else sqlite.insert
    tx.execute(dialect_insert(PROJECTS).on_conflict_do_nothing(index_elements=["name"]), rows)


def list_all(tx: Tx) -> list[ProjectRecord]:
    return records(ProjectRecord, tx.execute(select(PROJECTS).order_by(PROJECTS.c.name)))
