"""Balanced transactions. A `Transaction` cannot be built unless, in every currency, its debits
equal its credits; it has at least one line; and every line is a positive amount, in a known
currency with no more decimals than it has, on a known account."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ledger_svc.domain.accounts import Side, UnknownAccount, account_type, is_shared
from ledger_svc.domain.chain import Seal, seal
from mesh.money import InvalidMoney, quantize

ZERO = Decimal(0)


class LedgerError(Exception):
    """A rule of the ledger was broken."""


class InvalidTransaction(LedgerError, ValueError):
    """The transaction cannot be posted; nothing of it was."""


class EmptyTransaction(InvalidTransaction):
    pass


class NonPositivePosting(InvalidTransaction):
    pass


class InvalidPosting(InvalidTransaction):
    """Unknown account, unknown currency, or more decimals than the currency has."""


class UnbalancedTransaction(InvalidTransaction):
    def __init__(self, currency: str, debits: Decimal, credits: Decimal) -> None:
        super().__init__(
            f"transaction does not balance in {currency}: debits {debits} != credits {credits}"
        )
        self.currency = currency
        self.debits = debits
        self.credits = credits


@dataclass(frozen=True)
class Posting:
    """One line of a transaction: `amount` (always positive) on `side` of `account`."""

    account: str
    side: Side
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        if not isinstance(self.side, Side):
            raise InvalidPosting(f"side must be a Side, got {self.side!r}")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidPosting(f"amount must be a finite Decimal, got {self.amount!r}")
        if self.amount <= 0:
            raise NonPositivePosting(
                f"{self.side.value} of {self.amount} {self.currency} to {self.account}: "
                "every line must be positive"
            )
        try:
            account_type(self.account)
            exact = quantize(self.amount, self.currency) == self.amount
        except (UnknownAccount, InvalidMoney) as err:
            raise InvalidPosting(str(err)) from None
        if not exact:
            raise InvalidPosting(f"{self.amount} has more decimals than {self.currency} allows")


@dataclass(frozen=True)
class BalanceDelta:
    """What a transaction adds to one account's maintained totals in one currency."""

    account: str
    currency: str
    debits: Decimal
    credits: Decimal


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    description: str
    postings: tuple[Posting, ...]
    payment_order_id: str | None = None
    refund_id: str | None = None  # the refund a reversal is for

    def __post_init__(self) -> None:
        object.__setattr__(self, "postings", tuple(self.postings))
        self.check()

    def check(self) -> None:
        """Raise `InvalidTransaction` unless the transaction may be posted."""
        if not self.transaction_id:
            raise InvalidTransaction("transaction_id is required")
        if not self.postings:
            raise EmptyTransaction("a transaction needs at least one line")
        totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for posting in self.postings:
            posting.check()
            totals[posting.currency][0 if posting.side is Side.DEBIT else 1] += posting.amount
        for currency in sorted(totals):
            debits, credits = totals[currency]
            if debits != credits:
                raise UnbalancedTransaction(currency, debits, credits)

    def seal(self, posted_at: datetime) -> Seal:
        """Its chain and digest (ledger_svc.domain.chain), posted at `posted_at`."""
        return seal(
            self.transaction_id,
            self.payment_order_id,
            self.refund_id,
            self.description,
            posted_at,
            ((p.account, p.side.value, p.amount, p.currency) for p in self.postings),
        )

    def balance_deltas(self) -> list[BalanceDelta]:
        """One delta per (account, currency), in the order their rows must be locked: an order
        every transaction shares (so two can never deadlock), with the shared hot accounts last
        so their locks are held for the shortest time."""
        sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for p in self.postings:
            sums[(p.account, p.currency)][0 if p.side is Side.DEBIT else 1] += p.amount
        keys = sorted(sums, key=lambda k: (is_shared(k[0]), k[0], k[1]))
        return [BalanceDelta(a, c, sums[(a, c)][0], sums[(a, c)][1]) for a, c in keys]
