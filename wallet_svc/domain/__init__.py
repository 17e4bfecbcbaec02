"""The wallet's domain: what a seller is owed, per currency, the rules that credit, debit,
release and hold it. No I/O here."""

from wallet_svc.domain.balance import Balance, Bucket, settle_debt
from wallet_svc.domain.credit import Credit, InvalidCredit
from wallet_svc.domain.events import DomainEvent, WalletCredited, WalletMoved
from wallet_svc.domain.hold import Hold, HoldNotInState, HoldStatus
from wallet_svc.domain.refund_debit import (
    DebitSplit,
    InvalidRefundDebit,
    RefundDebit,
    split_debit,
)

__all__ = [
    "Balance",
    "Bucket",
    "Credit",
    "DebitSplit",
    "DomainEvent",
    "Hold",
    "HoldNotInState",
    "HoldStatus",
    "InvalidCredit",
    "InvalidRefundDebit",
    "RefundDebit",
    "WalletCredited",
    "WalletMoved",
    "settle_debt",
    "split_debit",
]
