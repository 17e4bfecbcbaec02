"""Run a job every so often until cancelled: background upkeep such as sweepers and purges.

A failing round is logged and the job runs again at the next tick; it never stops the service
(the database may be away for a while, and the next round catches up).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(interval_s: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Call `job` now and then every `interval_s` (with ±10 % jitter, so that replicas do not
    march in step), until cancelled."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.warning("%s failed: %s; trying again in %.0f s", name, err, interval_s)
        await asyncio.sleep(interval_s * random.uniform(0.9, 1.1))
