"""The wallet's use cases: credit a seller for a succeeded order, read a seller's balances."""

from __future__ import annotations

import enum

from mesh.errors import FieldViolation, invalid_argument, not_found
from mesh.money import CURRENCY_EXPONENTS
from mesh.payment_events import OrderSucceeded
from wallet_svc.domain import Balance, Bucket, Credit, WalletCredited, settle_debt
from wallet_svc.service_layer.moves import move
from wallet_svc.service_layer.ports import WalletUnitOfWork

CREDIT_CONSUMER = "wallet-credit"


# Credit the seller of a succeeded payment order: the event as every consumer reads it.
CreditOrder = OrderSucceeded


class CreditOutcome(enum.Enum):
    CREDITED = "credited"
    DUPLICATE_EVENT = "duplicate_event"  # this event was handled before
    ALREADY_CREDITED = "already_credited"  # another event credited this order before


async def credit_seller(uow: WalletUnitOfWork, cmd: CreditOrder) -> CreditOutcome:
    """Credit `gross - fee` to the seller's pending balance, once per order, in one transaction
    with the inbox claim and the `wallet.credited` event; a debt the seller has is settled
    from it first (a `debt_settled` move). Raises `InvalidCredit` (before any I/O) when the
    order cannot be credited as stated."""
    credit = Credit(cmd.payment_order_id, cmd.seller_account, cmd.gross, cmd.fee)
    async with uow:
        if not await uow.claim_event(CREDIT_CONSUMER, cmd.event_id):
            return CreditOutcome.DUPLICATE_EVENT
        # The common case, no debt, keeps the lock-free path: a debt created by a refund that
        # commits meanwhile is settled by the next credit (each move is told to the ledger).
        if await uow.wallets.debt_of(credit.seller_account, credit.currency) > 0:
            return await _credit_settling_debt(uow, credit, cmd.event_id)
        if not await uow.wallets.add_credit(credit, cmd.event_id):
            # Commit the claim alone: this event is handled, and had no effect.
            await uow.commit()
            return CreditOutcome.ALREADY_CREDITED
        await uow.publish(
            WalletCredited(credit.payment_order_id, credit.seller_account, credit.net)
        )
        # The balance row is the one other credits of this seller wait on: touch it last.
        await uow.wallets.add_pending(credit.seller_account, credit.net)
        await uow.commit()
    return CreditOutcome.CREDITED


async def _credit_settling_debt(
    uow: WalletUnitOfWork, credit: Credit, event_id: str
) -> CreditOutcome:
    balance = await uow.wallets.lock_balance(credit.seller_account, credit.currency)
    settled = settle_debt(balance, credit.net.amount)
    if not await uow.wallets.add_credit(credit, event_id, settled):
        await uow.commit()
        return CreditOutcome.ALREADY_CREDITED
    await uow.publish(WalletCredited(credit.payment_order_id, credit.seller_account, credit.net))
    # The ledger credits the whole net to the pending account; the move takes the settled
    # part from there to the debt.
    balance = balance.credit_pending(credit.net.amount)
    balance = await move(
        uow,
        credit.seller_account,
        balance,
        settled,
        Bucket.PENDING,
        Bucket.DEBT,
        "debt_settled",
        credit.payment_order_id,
    )
    await uow.wallets.save_balance(credit.seller_account, balance)
    await uow.commit()
    return CreditOutcome.CREDITED


async def get_balances(
    uow: WalletUnitOfWork, seller_account: str, currency: str = ""
) -> list[Balance]:
    """The seller's balances sorted by currency, or only the one in `currency` (zero when the
    seller holds none in it). NOT_FOUND for a seller never credited."""
    if currency and currency not in CURRENCY_EXPONENTS:
        raise invalid_argument(
            [FieldViolation("currency", "currency.iso4217", f"unknown currency {currency!r}")]
        )
    async with uow:
        balances = await uow.wallets.balances(seller_account)
    if not balances:
        raise not_found("seller_account", seller_account)
    if currency:
        return [b for b in balances if b.currency == currency] or [Balance(currency)]
    return balances
