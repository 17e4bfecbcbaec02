"""The chart of accounts: which accounts exist, what kind each is, and its normal side (the
side on which it grows). A balance is always read on the account's normal side."""

from __future__ import annotations

import enum
import re
from decimal import Decimal


class Side(enum.Enum):
    DEBIT = "debit"
    CREDIT = "credit"


class AccountType(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Side:
        return Side.DEBIT if self in (AccountType.ASSET, AccountType.EXPENSE) else Side.CREDIT


class UnknownAccount(ValueError):
    """The name is not an account of the chart."""


# What the PSP owes the platform for charges it captured (asset).
PSP_RECEIVABLE = "psp_receivable"
# The platform's fee on each order (revenue).
PLATFORM_FEE_REVENUE = "platform_fee_revenue"
# What the platform owes one seller and may not pay out yet (the wallet's `pending`):
# `seller_payable:<seller_account>` (liability). The name predates the buckets: every posting
# made before them is pending money, so it kept its name (README, "Pay-out").
SELLER_PAYABLE = "seller_payable"
# Released, free to be paid out (the wallet's `available`) (liability).
SELLER_PAYABLE_AVAILABLE = "seller_payable_available"
# Held by a payout in flight (the wallet's `reserved`) (liability).
SELLER_PAYABLE_RESERVED = "seller_payable_reserved"
# What a seller owes the platform: refunds beyond its balance (the wallet's `debt`) (asset).
SELLER_DEBT = "seller_debt"

# What the PSP charged the platform for its service, booked from its report (expense).
PSP_FEES = "psp_fees"
# The platform's own bank account, which the PSP pays the platform's balance out to (asset).
PLATFORM_CASH = "platform_cash"
# Money the books hold apart until a person has explained it (reconciliation's finance queue,
# ledger_svc.domain.recon_books): differences written off, and a duplicate charge the PSP holds
# for the buyer until it is refunded (liability: credit-normal; may run on its debit side when
# more was written off the PSP's way than the other).
RECON_SUSPENSE = "recon_suspense"

# Accounts that stand alone, and families with one account per party.
_SINGLE = {
    PSP_RECEIVABLE: AccountType.ASSET,
    PLATFORM_FEE_REVENUE: AccountType.REVENUE,
    PSP_FEES: AccountType.EXPENSE,
    PLATFORM_CASH: AccountType.ASSET,
    RECON_SUSPENSE: AccountType.LIABILITY,
}
_FAMILIES = {
    SELLER_PAYABLE: AccountType.LIABILITY,
    SELLER_PAYABLE_AVAILABLE: AccountType.LIABILITY,
    SELLER_PAYABLE_RESERVED: AccountType.LIABILITY,
    SELLER_DEBT: AccountType.ASSET,
}
_PARTY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Accounts every order (or every PSP booking) posts to: their balance rows are the hot ones.
SHARED_ACCOUNTS = frozenset(_SINGLE) - {RECON_SUSPENSE}


def seller_payable(seller_account: str) -> str:
    """The account of what the platform owes `seller_account`."""
    if not _PARTY.match(seller_account):
        raise UnknownAccount(f"seller_account {seller_account!r} is not a valid account id")
    return f"{SELLER_PAYABLE}:{seller_account}"


def seller_account_of(family: str, seller_account: str) -> str:
    """The account of `family` (one of the seller families) for `seller_account`."""
    if family not in _FAMILIES:
        raise UnknownAccount(f"unknown account family {family!r}")
    if not _PARTY.match(seller_account):
        raise UnknownAccount(f"seller_account {seller_account!r} is not a valid account id")
    return f"{family}:{seller_account}"


def account_type(account: str) -> AccountType:
    """The kind of `account`; `UnknownAccount` when it is not in the chart."""
    if account in _SINGLE:
        return _SINGLE[account]
    family, sep, party = account.partition(":")
    if sep and family in _FAMILIES and _PARTY.match(party):
        return _FAMILIES[family]
    raise UnknownAccount(f"unknown account {account!r}")


def normal_side(account: str) -> Side:
    return account_type(account).normal_side


def is_shared(account: str) -> bool:
    """True for accounts that every transaction touches (lock them last, hold them briefly)."""
    return account in SHARED_ACCOUNTS


def balance_on_normal_side(account: str, debits: Decimal, credits: Decimal) -> Decimal:
    """The account's balance: debits - credits for a debit-normal account, the other way round
    for a credit-normal one. Negative means the account is on its contra side."""
    if normal_side(account) is Side.DEBIT:
        return debits - credits
    return credits - debits
