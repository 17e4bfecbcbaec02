"""Events the ledger emits, as plain dataclasses (entrypoints map them to protobuf)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LedgerPosted:
    """The transaction of a payment order was posted (subject `ledger.posted`)."""

    payment_order_id: str
    transaction_id: str
