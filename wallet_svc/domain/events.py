"""Events the wallet emits, as plain dataclasses (entrypoints map them to protobuf)."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.money import Money


@dataclass(frozen=True)
class WalletCredited:
    """A seller's pending balance was credited for an order (subject `wallet.credited`)."""

    payment_order_id: str
    seller_account: str
    net: Money


DomainEvent = WalletCredited
