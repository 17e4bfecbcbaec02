"""The sweeper: orders that have sat unsettled past a threshold are driven to an outcome.

- NOT_STARTED: its `payment.order.created` message may have been dead-lettered; execute it.
- EXECUTING: an attempt's outcome is unknown; execute again, which asks the PSP first.
- PENDING: no webhook came; poll the PSP.

Running an order that the executor is also running is harmless: the PSP idempotency key and the
conditional transitions let only one outcome be recorded, and never a second charge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import PaymentProvider, PspRejected, PspUnavailable
from payment_svc.service_layer.execute_order import Execution, execute_order, settle_pending
from payment_svc.service_layer.ports import Clock, StoreUnavailable, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one round found and did, by order id."""

    settled: dict[str, Execution] = field(default_factory=dict)
    still_open: list[str] = field(default_factory=list)  # PSP unreachable, or still pending


async def sweep_stuck_orders(
    *,
    uow: UnitOfWorkFactory,
    psp: PaymentProvider,
    clock: Clock,
    stuck_after: timedelta,
    limit: int = 200,
) -> SweepReport:
    """One round over the oldest unsettled orders not updated for `stuck_after`."""
    async with uow() as tx:
        stuck = await tx.repo.list_unsettled(clock() - stuck_after, limit)
    report = SweepReport()
    for payment_order_id, status in stuck:
        try:
            if status is OrderStatus.PENDING:
                result = await settle_pending(payment_order_id, uow=uow, psp=psp, clock=clock)
            else:
                result = await execute_order(payment_order_id, uow=uow, psp=psp, clock=clock)
        except (PspUnavailable, PspRejected, StoreUnavailable) as err:
            log.warning("sweeper could not settle payment order %s: %s", payment_order_id, err)
            report.still_open.append(payment_order_id)
            continue
        if result is Execution.PENDING:
            report.still_open.append(payment_order_id)
        else:
            report.settled[payment_order_id] = result
    if report.settled:
        log.info("sweeper settled %d stuck payment orders", len(report.settled))
    return report
