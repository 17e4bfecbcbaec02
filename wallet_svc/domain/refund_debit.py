"""The refund rule: a succeeded refund takes back from its seller what the seller was credited
for that part of the order, the refunded amount less the fee the platform gives back, once per
refund.

For an order not yet released it is taken from `pending` first, where the order's credit went,
then from `available`; for a released order, from `available`. What the balance cannot cover
becomes the seller's `debt`, settled first by later credits. The money is never dropped:
wallet and ledger move by the same amount whatever the split (the ledger's refund posting hits
the pending account; the wallet's moves tell it where the money really came from)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mesh.fees import InvalidFee, net_of_fee
from mesh.money import Money
from wallet_svc.domain.balance import Balance
from wallet_svc.domain.credit import SELLER_ACCOUNT, InvalidCredit


class InvalidRefundDebit(InvalidCredit):
    """The refund cannot be debited as stated (it never will be: the event is a poison)."""


@dataclass(frozen=True)
class RefundDebit:
    """The debit of one refund from its seller. Constructing one checks the fee rule
    (mesh.fees.net_of_fee: positive amount, fee in the same currency, 0 <= fee <= amount),
    guarded in the database by the `wallet_refund_debits_*` checks (migration 0002)."""

    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: Money
    fee_refunded: Money

    def __post_init__(self) -> None:
        if not self.refund_id or not self.payment_order_id:
            raise InvalidRefundDebit("refund_id and payment_order_id are required")
        if not SELLER_ACCOUNT.match(self.seller_account):
            raise InvalidRefundDebit(f"seller_account {self.seller_account!r} is not valid")
        try:
            net_of_fee(
                self.amount, self.fee_refunded, gross_name="the amount", fee_name="fee_refunded"
            )
        except InvalidFee as err:
            raise InvalidRefundDebit(str(err)) from None

    @property
    def currency(self) -> str:
        return self.amount.currency

    @property
    def net(self) -> Money:
        """What the seller gives back: amount - fee_refunded, never negative."""
        return self.amount - self.fee_refunded


@dataclass(frozen=True)
class DebitSplit:
    """Where a refund debit was taken from; `to_debt` is what the seller now owes."""

    from_pending: Decimal
    from_available: Decimal
    to_debt: Decimal = Decimal(0)


def split_debit(balance: Balance, net: Decimal, released: bool = False) -> DebitSplit:
    """Take `net` from pending (unless the order was released) as far as it goes, then from
    available as far as it goes; the rest is debt."""
    zero = Decimal(0)
    from_pending = zero if released else min(max(balance.pending, zero), net)
    from_available = min(max(balance.available, zero), net - from_pending)
    return DebitSplit(from_pending, from_available, net - from_pending - from_available)
