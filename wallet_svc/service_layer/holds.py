"""Holds for payouts: reserve (available → reserved) under the balance row's lock, so that
concurrent payouts of one seller never hold more than was available; then capture (paid out),
release (back to available) or return (a paid payout came back). Each is idempotent on the
hold id, and each move is told to the ledger (`wallet.moved`)."""

from __future__ import annotations

from decimal import Decimal

from mesh.errors import FieldViolation, failed_precondition, invalid_argument, not_found
from mesh.money import CURRENCY_EXPONENTS, InvalidMoney, format_amount, parse_amount
from wallet_svc.domain import Bucket, Hold, HoldNotInState
from wallet_svc.service_layer.moves import move
from wallet_svc.service_layer.ports import WalletUnitOfWork


def insufficient_funds(available: Decimal, currency: str, wanted: Decimal | None) -> Exception:
    asked = f"{format_amount(wanted, currency)} {currency}" if wanted else "a payout"
    return failed_precondition(
        "INSUFFICIENT_FUNDS",
        f"{asked} exceeds the available balance of {format_amount(available, currency)} {currency}",
        {"available": format_amount(available, currency), "currency": currency},
    )


async def reserve_funds(
    uow: WalletUnitOfWork, hold_id: str, seller_account: str, amount: str, currency: str
) -> Hold:
    """Hold `amount` (empty: everything available) of the seller's available balance for payout
    `hold_id`. A hold that exists is returned as it is. FAILED_PRECONDITION:
    NO_BALANCE_IN_CURRENCY when the seller holds nothing in `currency`, INSUFFICIENT_FUNDS
    (with `available`) when it holds too little."""
    if currency not in CURRENCY_EXPONENTS:
        raise invalid_argument(
            [FieldViolation("currency", "currency.iso4217", f"unknown currency {currency!r}")]
        )
    wanted: Decimal | None = None
    if amount:
        try:
            wanted = parse_amount(amount, currency, allow_zero=False)
        except InvalidMoney as err:
            raise invalid_argument([FieldViolation("amount", err.rule, str(err))]) from None
    async with uow:
        held = {b.currency for b in await uow.wallets.balances(seller_account)}
        if currency not in held:
            found = await uow.wallets.get_hold(hold_id)
            if found is not None:
                return found
            raise failed_precondition(
                "NO_BALANCE_IN_CURRENCY",
                f"seller {seller_account} has no balance in {currency}",
                {"seller_account": seller_account, "currency": currency},
            )
        # The lock every reserve of this seller and currency waits on: the check and the move
        # below see the balance (and a hold of the same id made meanwhile) as they really are.
        balance = await uow.wallets.lock_balance(seller_account, currency)
        found = await uow.wallets.get_hold(hold_id)
        if found is not None:
            return found
        take = balance.available if wanted is None else wanted
        if take <= 0 or take > balance.available:
            raise insufficient_funds(balance.available, currency, wanted)
        hold = Hold(hold_id, seller_account, currency, take)
        if not await uow.wallets.add_hold(hold):
            raise RuntimeError(f"hold {hold_id} was made elsewhere meanwhile")
        balance = await move(
            uow,
            seller_account,
            balance,
            take,
            Bucket.AVAILABLE,
            Bucket.RESERVED,
            "reserve",
            hold_id,
        )
        await uow.wallets.save_balance(seller_account, balance)
        await uow.commit()
    return hold


async def settle_hold(uow: WalletUnitOfWork, hold_id: str, step: str) -> Hold:
    """Take `step` (capture, release_hold, return) on the hold, once: a step taken before
    returns the hold as it is. NOT_FOUND for an unknown hold, FAILED_PRECONDITION
    HOLD_NOT_IN_STATE when the hold is elsewhere (capturing a released hold)."""
    async with uow:
        hold = await uow.wallets.get_hold(hold_id, lock=True)
        if hold is None:
            raise not_found("hold_id", hold_id)
        try:
            stepped = hold.step(step)
        except HoldNotInState as err:
            raise failed_precondition("HOLD_NOT_IN_STATE", str(err)) from None
        if stepped is None:
            return hold
        new_hold, debit, credit = stepped
        balance = await uow.wallets.lock_balance(hold.seller_account, hold.currency)
        balance = await move(
            uow, hold.seller_account, balance, hold.amount, debit, credit, step, hold_id
        )
        await uow.wallets.save_balance(hold.seller_account, balance)
        await uow.wallets.save_hold(new_hold)
        await uow.commit()
    return new_hold
