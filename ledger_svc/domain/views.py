"""What the ledger's reads return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ledger_svc.domain.accounts import Side, balance_on_normal_side


@dataclass(frozen=True)
class AccountBalance:
    """An account's maintained totals in one currency."""

    account: str
    currency: str
    debits: Decimal
    credits: Decimal

    @property
    def balance(self) -> Decimal:
        """On the account's normal side."""
        return balance_on_normal_side(self.account, self.debits, self.credits)


@dataclass(frozen=True)
class CurrencyTotals:
    """Debits and credits over every account in one currency."""

    currency: str
    debits: Decimal
    credits: Decimal

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


@dataclass(frozen=True)
class EntryRecord:
    """One posted entry with its transaction's facts."""

    entry_id: int
    transaction_id: str
    account: str
    side: Side
    amount: Decimal
    currency: str
    payment_order_id: str | None
    description: str
    posted_at: datetime
