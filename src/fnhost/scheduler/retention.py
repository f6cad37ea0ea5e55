"""The retention loop: deletes ended calls and expired sessions past FNHOST_CALL_RETENTION_DAYS.

Every server runs one; the deletes are the same whoever runs them.
"""

import asyncio
import logging

from fnhost import clock, timings
from fnhost.services import retention as retention_service
from fnhost.services.platform import Platform

logger = logging.getLogger(__name__)


class Retention:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def run(self) -> None:
        """Prune now, then every RETENTION_PRUNE_SECONDS, until cancelled."""
        while True:
            try:
                pruned = await retention_service.prune(self._platform, now=clock.now())
            except Exception:
                logger.exception("pruning failed", extra={"action": "prune_failed"})
            else:
                if pruned.calls or pruned.sessions:
                    logger.info(
                        "deleted %d ended calls and %d expired sessions past retention",
                        pruned.calls,
                        pruned.sessions,
                        extra={"action": "pruned"},
                    )
            await asyncio.sleep(timings.RETENTION_PRUNE_SECONDS)
