"""The sweeper: orders that have sat unsettled past a threshold are driven to an outcome.

- NOT_STARTED: its `payment.order.created` message may have been dead-lettered; execute it.
- EXECUTING: an attempt's outcome is unknown; execute again, which asks the PSP first.
- PENDING: no webhook came; poll the PSP.
- SUCCESS, but the wallet's or the ledger's flag has not come back (its event was lost, or
  dead-lettered and never replayed): publish `payment.order.succeeded` again, with its original
  event id, so that the inbox of the consumer that applied it drops it and the one that lost it
  applies it (`reannounce_unflagged`).

Running an order that the executor is also running is harmless: the PSP idempotency key and the
conditional transitions let only one outcome be recorded, and never a second charge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import PaymentProvider, PspRejected, PspUnavailable
from payment_svc.service_layer.execute_order import Execution, execute_order, settle_pending
from payment_svc.service_layer.ports import Clock, StoreUnavailable, UnitOfWorkFactory

log = logging.getLogger(__name__)


R = TypeVar("R")


@dataclass
class SweepReport(Generic[R]):
    """What one round found and did, by id (of an order or a refund)."""

    settled: dict[str, R] = field(default_factory=dict)
    still_open: list[str] = field(default_factory=list)  # PSP unreachable, or still pending


async def settle_each(
    ids: Iterable[str], settle: Callable[[str], Awaitable[R]], *, pending: R, what: str
) -> SweepReport[R]:
    """Settle each id in turn; one that cannot be settled now (the PSP or the database away, or
    the PSP still undecided) stays open for the next round and does not stop the others."""
    report: SweepReport[R] = SweepReport()
    for item_id in ids:
        try:
            result = await settle(item_id)
        except (PspUnavailable, PspRejected, StoreUnavailable) as err:
            log.warning("sweeper could not settle %s %s: %s", what, item_id, err)
            report.still_open.append(item_id)
            continue
        if result == pending:
            report.still_open.append(item_id)
        else:
            report.settled[item_id] = result
    if report.settled:
        log.info("sweeper settled %d stuck %ss", len(report.settled), what)
    return report


async def sweep_stuck_orders(
    *,
    uow: UnitOfWorkFactory,
    psp: PaymentProvider,
    clock: Clock,
    stuck_after: timedelta,
    limit: int = 200,
) -> SweepReport[Execution]:
    """One round over the oldest unsettled orders not updated for `stuck_after`."""
    async with uow() as tx:
        stuck = dict(await tx.repo.list_unsettled(clock() - stuck_after, limit))

    async def settle(payment_order_id: str) -> Execution:
        if stuck[payment_order_id] is OrderStatus.PENDING:
            return await settle_pending(payment_order_id, uow=uow, psp=psp, clock=clock)
        return await execute_order(payment_order_id, uow=uow, psp=psp, clock=clock)

    return await settle_each(stuck, settle, pending=Execution.PENDING, what="payment order")


@dataclass
class Reannouncement:
    """What one round of `reannounce_unflagged` did, by order id."""

    announced: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # the original event no longer kept


async def reannounce_unflagged(
    *, uow: UnitOfWorkFactory, clock: Clock, quiet_for: timedelta, limit: int = 200
) -> Reannouncement:
    """One round over SUCCESS orders whose wallet or ledger flag has not come back and that
    have been quiet (not changed, not announced again) for `quiet_for`: publish each one's
    succeeded event again, each in a transaction of its own."""
    now = clock()
    async with uow() as tx:
        quiet = await tx.repo.list_unflagged(now - quiet_for, limit)
    done = Reannouncement()
    for payment_order_id in quiet:
        async with uow() as tx:
            found = await tx.repo.announce_again(payment_order_id, now)
            await tx.commit()
        (done.announced if found else done.lost).append(payment_order_id)
    if done.announced:
        log.warning(
            "sweeper announced %d SUCCESS orders again, their flags not back: %s",
            len(done.announced),
            ", ".join(done.announced[:10]),
        )
    if done.lost:
        log.error(
            "sweeper cannot announce %d SUCCESS orders again, their event no longer kept: %s",
            len(done.lost),
            ", ".join(done.lost[:10]),
        )
    return done
