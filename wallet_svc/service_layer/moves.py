"""Moving money between a seller's buckets: the balance changes, the move is recorded and its
`wallet.moved` event queued in the same unit of work, so the ledger posts every move once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from mesh.money import Money
from wallet_svc.domain import Balance, Bucket, WalletMoved
from wallet_svc.service_layer.ports import WalletUnitOfWork


def new_move_id() -> str:
    return str(uuid.uuid4())


async def move(
    uow: WalletUnitOfWork,
    seller_account: str,
    balance: Balance,
    amount: Decimal,
    debit: Bucket,
    credit: Bucket,
    reason: str,
    reference: str,
    new_id: Callable[[], str] = new_move_id,
) -> Balance:
    """The balance after the move (the caller saves it); nothing at all for a zero amount."""
    if amount == 0:
        return balance
    event = WalletMoved(
        new_id(), seller_account, Money(amount, balance.currency), debit, credit, reason, reference
    )
    await uow.wallets.add_move(event)
    await uow.publish(event)
    return balance.moved(debit, credit, amount)
