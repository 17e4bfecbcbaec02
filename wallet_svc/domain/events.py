"""Events the wallet emits, as plain dataclasses (entrypoints map them to protobuf)."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.money import Money
from wallet_svc.domain.balance import Bucket


@dataclass(frozen=True)
class WalletCredited:
    """A seller's pending balance was credited for an order (subject `wallet.credited`)."""

    payment_order_id: str
    seller_account: str
    net: Money


@dataclass(frozen=True)
class WalletMoved:
    """Money moved between a seller's buckets, or out of or back into the wallet (subject
    `wallet.moved`): the ledger debits `debit`'s account and credits `credit`'s, once per
    `move_id`."""

    move_id: str
    seller_account: str
    amount: Money
    debit: Bucket
    credit: Bucket
    reason: str
    reference: str


DomainEvent = WalletCredited | WalletMoved
