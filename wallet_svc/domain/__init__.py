"""The wallet's domain: what a seller is owed, per currency, and the rule that credits it.
No I/O here."""

from wallet_svc.domain.balance import Balance
from wallet_svc.domain.credit import Credit, InvalidCredit
from wallet_svc.domain.events import WalletCredited
from wallet_svc.domain.refund_debit import (
    DebitSplit,
    InvalidRefundDebit,
    RefundDebit,
    split_debit,
)

__all__ = [
    "Balance",
    "Credit",
    "DebitSplit",
    "InvalidCredit",
    "InvalidRefundDebit",
    "RefundDebit",
    "WalletCredited",
    "split_debit",
]
