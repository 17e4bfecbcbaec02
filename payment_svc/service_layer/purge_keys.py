"""Forget idempotency keys whose time is up (IDEMPOTENCY_KEY_TTL_S after they were answered).

A key past its time is taken over by the next request that uses it anyway (the claim treats it
as new), so the purge only keeps the table small; batches keep each transaction short."""

from __future__ import annotations

import logging

from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)

BATCH = 1000


async def purge_expired_keys(uow: UnitOfWorkFactory, clock: Clock, batch: int = BATCH) -> int:
    """Delete every expired key, a batch per transaction; how many went."""
    total = 0
    while True:
        async with uow() as tx:
            deleted = await tx.repo.purge_expired_requests(clock(), batch)
            await tx.commit()
        total += deleted
        if deleted < batch:
            if total:
                log.info("purged %d expired idempotency keys", total)
            return total
