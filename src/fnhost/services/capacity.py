"""The overload limits: how many calls of a function, and of a project, may be running or waiting
at once (FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION and _PER_PROJECT, after CDF's published limits).

Past them a new call is refused (429; clients such as the SDK retry with backoff) and a schedule's
tick is skipped, so that a flood is refused at the door rather than absorbed into a queue that
grows without bound. Counted in the database, so the limits hold across the servers sharing it
(on PostgreSQL, concurrent requests may each see the last free place: the limit can be passed by
as many requests as arrive at that same moment).
"""

from collections import defaultdict
from collections.abc import Mapping

from fnhost.settings import CallSettings


class Capacity:
    """Room for new calls, from the counts of calls not ended."""

    def __init__(
        self,
        limits: CallSettings,
        *,
        by_function: Mapping[tuple[str, int], int],
        by_project: Mapping[str, int],
    ) -> None:
        self._per_function = limits.max_active_calls_per_function
        self._per_project = limits.max_active_calls_per_project
        self._by_function: dict[tuple[str, int], int] = defaultdict(int, by_function)
        self._by_project: dict[str, int] = defaultdict(int, by_project)

    @classmethod
    def of_functions(
        cls, limits: CallSettings, by_function: Mapping[tuple[str, int], int]
    ) -> "Capacity":
        """From the counts of every function of the projects concerned."""
        by_project: dict[str, int] = defaultdict(int)
        for (project, _), count in by_function.items():
            by_project[project] += count
        return cls(limits, by_function=by_function, by_project=by_project)

    def refusal(self, project: str, function_id: int) -> str | None:
        """Why a new call of the function cannot be accepted now; None when it can (and it is
        then counted)."""
        in_function = self._by_function[project, function_id]
        if in_function >= self._per_function:
            return (
                f"Function {function_id} has {in_function} calls running or waiting, its limit "
                "(FNHOST_MAX_ACTIVE_CALLS_PER_FUNCTION); call again when some have ended"
            )
        in_project = self._by_project[project]
        if in_project >= self._per_project:
            return (
                f"Project {project!r} has {in_project} calls running or waiting, its limit "
                "(FNHOST_MAX_ACTIVE_CALLS_PER_PROJECT); call again when some have ended"
            )
        self._by_function[project, function_id] += 1
        self._by_project[project] += 1
        return None
