"""The ledger's use cases: post the transaction of a succeeded order (hash-chained), read
balances, entries and the trial balance."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from ledger_svc.domain import (
    AccountBalance,
    CurrencyTotals,
    EntryRecord,
    LedgerPosted,
    Side,
    Transaction,
    UnknownAccount,
    normal_side,
    payment_order_succeeded,
)
from ledger_svc.service_layer.page_tokens import decode_page_token, encode_page_token
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from mesh.errors import FieldViolation, invalid_argument, not_found
from mesh.money import CURRENCY_EXPONENTS
from mesh.payment_events import OrderSucceeded

POST_CONSUMER = "ledger-post"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


# Post the transaction of a succeeded payment order: the event as every consumer reads it.
PostPaymentOrder = OrderSucceeded


class PostOutcome(enum.Enum):
    POSTED = "posted"
    DUPLICATE_EVENT = "duplicate_event"  # this event was handled before
    ALREADY_POSTED = "already_posted"  # another event posted this order before


def _new_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


async def post_payment_order(
    uow: LedgerUnitOfWork,
    cmd: PostPaymentOrder,
    new_id: Callable[[], str] = _new_id,
    clock: Callable[[], datetime] = utc_now,
) -> PostOutcome:
    """Post the order's balanced transaction once. Raises `InvalidTransaction` (before any I/O)
    when the order cannot be posted as stated."""
    txn = payment_order_succeeded(
        new_id(), cmd.payment_order_id, cmd.seller_account, cmd.gross, cmd.fee
    )
    return await post_transaction(uow, POST_CONSUMER, cmd.event_id, txn, clock)


async def post_transaction(
    uow: LedgerUnitOfWork,
    consumer: str,
    event_id: str,
    txn: Transaction,
    clock: Callable[[], datetime] = utc_now,
) -> PostOutcome:
    """Append `txn` in one database transaction with the inbox claim, its `ledger.posted` event
    and the maintained balances, as the next link of its hash chain. Refuses
    (`InvalidTransaction`) a transaction that does not balance, whoever built it."""
    txn.check()
    seal = txn.seal(clock())  # before any I/O: the digest is the domain's
    async with uow:
        if not await uow.claim_event(consumer, event_id):
            return PostOutcome.DUPLICATE_EVENT
        if not await uow.ledger.add_transaction(txn, seal):
            # Commit the claim alone: this event is handled, and had no effect.
            await uow.commit()
            return PostOutcome.ALREADY_POSTED
        if txn.payment_order_id:
            await uow.publish(LedgerPosted(txn.payment_order_id, txn.transaction_id))
        # Balance rows last, hot accounts at the very end: every posting waits on their locks,
        # which are held from here to the commit.
        await uow.ledger.apply_balances(txn.balance_deltas())
        await uow.commit()
    return PostOutcome.POSTED


def _check_currency(currency: str) -> None:
    if currency and currency not in CURRENCY_EXPONENTS:
        raise invalid_argument(
            [FieldViolation("currency", "currency.iso4217", f"unknown currency {currency!r}")]
        )


async def get_account_balance(
    uow: LedgerUnitOfWork, account: str, currency: str = ""
) -> tuple[Side, list[AccountBalance]]:
    """The account's normal side and its totals per currency (or only in `currency`, zero when
    it has none there). NOT_FOUND for an account with no entries."""
    _check_currency(currency)
    try:
        side = normal_side(account)
    except UnknownAccount:
        raise not_found("account", account) from None
    async with uow:
        balances = await uow.ledger.account_balances(account)
    if not balances:
        raise not_found("account", account)
    if currency:
        zero = AccountBalance(account, currency, Decimal(0), Decimal(0))
        balances = [b for b in balances if b.currency == currency] or [zero]
    return side, balances


async def list_entries(
    uow: LedgerUnitOfWork, account: str, page_size: int = 0, page_token: str = ""
) -> tuple[list[EntryRecord], str]:
    """A page of the account's entries, newest first, and the token of the next page (empty on
    the last one)."""
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    before = decode_page_token(page_token) if page_token else None
    async with uow:
        found = await uow.ledger.entries(account, before, size + 1)
    page = found[:size]
    next_token = encode_page_token(page[-1].entry_id) if len(found) > size else ""
    return page, next_token


async def trial_balance(uow: LedgerUnitOfWork) -> list[CurrencyTotals]:
    """Debits and credits over every account, per currency."""
    async with uow:
        return await uow.ledger.currency_totals()
