"""The ledger's domain: accounts and their normal sides, balanced transactions, the
transaction a succeeded payment order posts. No I/O here."""

from ledger_svc.domain.accounts import (
    PLATFORM_FEE_REVENUE,
    PSP_RECEIVABLE,
    AccountType,
    Side,
    UnknownAccount,
    account_type,
    is_shared,
    normal_side,
    seller_payable,
)
from ledger_svc.domain.chain import CHAINS, GENESIS, Seal, chain_of, link_hash, transaction_digest
from ledger_svc.domain.chain_verify import BreakKind, BrokenLink, ChainWalker, StoredLink
from ledger_svc.domain.events import LedgerPosted
from ledger_svc.domain.moves import bucket_account, wallet_moved
from ledger_svc.domain.payments import payment_order_succeeded
from ledger_svc.domain.refunds import payment_refunded
from ledger_svc.domain.transaction import (
    BalanceDelta,
    EmptyTransaction,
    InvalidPosting,
    InvalidTransaction,
    LedgerError,
    NonPositivePosting,
    Posting,
    Transaction,
    UnbalancedTransaction,
)
from ledger_svc.domain.views import AccountBalance, CurrencyTotals, EntryRecord

__all__ = [
    "CHAINS",
    "GENESIS",
    "PLATFORM_FEE_REVENUE",
    "PSP_RECEIVABLE",
    "AccountBalance",
    "AccountType",
    "BalanceDelta",
    "BreakKind",
    "BrokenLink",
    "ChainWalker",
    "CurrencyTotals",
    "EmptyTransaction",
    "EntryRecord",
    "InvalidPosting",
    "InvalidTransaction",
    "LedgerError",
    "LedgerPosted",
    "NonPositivePosting",
    "Posting",
    "Seal",
    "Side",
    "StoredLink",
    "Transaction",
    "UnbalancedTransaction",
    "UnknownAccount",
    "account_type",
    "bucket_account",
    "chain_of",
    "is_shared",
    "link_hash",
    "normal_side",
    "payment_order_succeeded",
    "payment_refunded",
    "seller_payable",
    "transaction_digest",
    "wallet_moved",
]
