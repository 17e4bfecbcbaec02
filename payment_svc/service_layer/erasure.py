"""Erasing a buyer's personal data on request (GDPR art. 17 and the like), without touching money.

What is erased: the e-mail and name of each of the buyer's checkouts. What stays: the buyer id (the
marketplace's pseudonym, which its own records and the risk rules key on), the payment method
token, amounts, orders, their history, wallets and the ledger, which the law lets a payment
business keep (and requires it to). Erasing twice is harmless and answers the same.
"""

from __future__ import annotations

import logging

from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)


async def erase_personal_data(buyer_id: str, *, uow: UnitOfWorkFactory, clock: Clock) -> int:
    """Erase the buyer's PII; how many of the buyer's checkouts hold none now."""
    async with uow() as tx:
        erased = await tx.repo.erase_buyer_pii(buyer_id, clock())
        await tx.commit()
    log.info("erased the personal data of a buyer's %d checkouts", erased)
    return erased
