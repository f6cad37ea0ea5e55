"""What the metrics read from the database: the calls not ended, by state, across every server
of the database (a server's own counters cover only what it did itself)."""

from fnhost import metrics
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store


async def refresh(platform: Platform) -> None:
    """Update the gauges that count what the database holds."""
    counts = await platform.db.run_read(calls_store.not_ended_by_state)
    for state, count in counts.items():
        metrics.CALLS_NOT_ENDED.labels(state.value).set(count)
