"""Before sending again a charge or refund whose earlier attempt has an unknown outcome, ask the
PSP what became of it: the answer may have been lost after the PSP acted."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from payment_svc.domain.psp import PspRejected

log = logging.getLogger(__name__)

T = TypeVar("T")


async def ask_psp_first(lookup: Awaitable[T | None], what: str) -> T | None:
    """What the PSP knows of the earlier attempt at `what`; None if it knows of none.
    PspUnavailable propagates: the work waits, it is not sent blind. A PSP that cannot look it
    up (PspRejected) is answered None: sending again under the same idempotency key is still
    safe, as the PSP replays the first attempt's answer."""
    try:
        return await lookup
    except PspRejected as err:
        log.warning("PSP could not look up %s: %s", what, err)
        return None
