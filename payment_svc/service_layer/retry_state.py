"""An order's retry state: why its last try failed and when the next one is due, written when
a try fails because the PSP is out of reach (or its circuit breaker is open), so that the
order's GET shows that it waits and why."""

from __future__ import annotations

import logging
from datetime import timedelta

from mesh.retry import RetryPolicy, retry_after
from payment_svc.domain.psp import PspUnavailable
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 300


async def note_retry(
    payment_order_id: str,
    err: PspUnavailable,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    retry: RetryPolicy,
) -> PspUnavailable:
    """Store the order's retry state; returns the error to raise, carrying the wait (the one
    the error asked for, a PSP's Retry-After or the breaker's open time, else the policy's
    backoff by the order's attempts) so that the consumer's nak and the stored next attempt
    agree. If the store is out of reach too, `err` is returned as it is."""
    now = clock()
    asked = retry_after(err)
    last_error = str(err)[:MAX_ERROR_LENGTH] or type(err).__name__
    try:
        async with uow() as tx:
            due = now + timedelta(seconds=asked or 0.0)
            attempts = await tx.repo.record_retry(payment_order_id, last_error, due)
            if attempts is None:
                return err  # no longer waiting: settled meanwhile
            wait = asked if asked is not None else retry.delay(max(1, attempts))
            if asked is None:
                due = now + timedelta(seconds=wait)
                await tx.repo.record_retry(payment_order_id, last_error, due)
            await tx.commit()
    except Exception as store_err:  # the database down as well: the consumer's backoff decides
        log.warning("retry state of %s not stored: %s", payment_order_id, store_err)
        return err
    return PspUnavailable(last_error, retry_after_s=wait)
