"""Projects: namespaces named by URLs, which exist once something names them: a grant on them
(a token or a client), a resource created in them, or `fnhost project create`. Reads in a
project nothing has named answer as in an empty one; projects are never deleted."""

import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

from fnhost import clock, errors
from fnhost.services.platform import Platform
from fnhost.store import projects as projects_store
from fnhost.store.engine import Tx
from fnhost.store.projects import ProjectRecord

T = TypeVar("T")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def check_names(projects: Iterable[str]) -> list[str]:
    """The project names, sorted and unique; a name no URL could carry is a 400."""
    names = sorted(set(projects))
    for name in names:
        if not NAME.match(name):
            raise errors.InvalidInput(
                f"Invalid project name {name!r}: use 1 to 255 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
    return names


def name_in(tx: Tx, projects: Iterable[str]) -> None:
    """Within a write: make `projects` exist (those that do are left as they are)."""
    projects_store.name(tx, projects=projects, now_ms=clock.now_ms())


async def write_in(platform: Platform, project: str, unit: Callable[[Tx], T]) -> T:
    """`unit`'s result, run as a write in `project`, which the same transaction names unless
    this process already knows it exists: writes on the call path pay for it once."""
    if project in platform.named_projects:
        return await platform.db.run_write(unit)

    def named(tx: Tx) -> T:
        name_in(tx, [project])
        return unit(tx)

    result = await platform.db.run_write(named)
    # Only once committed: a unit that failed named nothing.
    platform.named_projects.add(project)
    return result


async def create(platform: Platform, *, name: str) -> None:
    """`fnhost project create`: make a project exist (it may already)."""
    await platform.db.run_write(partial(name_in, projects=check_names([name])))


async def list_projects(platform: Platform) -> list[ProjectRecord]:
    return await platform.db.run_read(projects_store.list_all)
