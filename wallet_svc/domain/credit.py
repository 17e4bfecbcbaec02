"""The credit rule: a succeeded order credits its seller the gross amount less the platform
fee, into `pending`, once per order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mesh.fees import InvalidFee, net_of_fee
from mesh.money import Money

SELLER_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidCredit(ValueError):
    """The order cannot be credited as stated (it never will be: the event is a poison)."""


@dataclass(frozen=True)
class Credit:
    """The credit of one payment order to its seller. Constructing one checks the fee rule
    (mesh.fees.net_of_fee: positive gross, fee in the same currency, 0 <= fee <= gross, so the
    net is never negative; a zero net, where the platform keeps everything, is a valid credit
    of nothing). Guarded in the database by the `wallet_credits_*` checks (migration 0001)."""

    payment_order_id: str
    seller_account: str
    gross: Money
    fee: Money

    def __post_init__(self) -> None:
        if not self.payment_order_id:
            raise InvalidCredit("payment_order_id is required")
        if not SELLER_ACCOUNT.match(self.seller_account):
            raise InvalidCredit(f"seller_account {self.seller_account!r} is not a valid account id")
        try:
            net_of_fee(self.gross, self.fee)
        except InvalidFee as err:
            raise InvalidCredit(str(err)) from None

    @property
    def currency(self) -> str:
        return self.gross.currency

    @property
    def net(self) -> Money:
        """What the seller is owed: gross - fee, never negative."""
        return self.gross - self.fee
