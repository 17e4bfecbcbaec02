"""The credit rule: a succeeded order credits its seller the gross amount less the platform
fee, into `pending`, once per order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mesh.money import InvalidMoney, Money, quantize

SELLER_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidCredit(ValueError):
    """The order cannot be credited as stated (it never will be: the event is a poison)."""


@dataclass(frozen=True)
class Credit:
    """The credit of one payment order to its seller. Constructing one checks the rule:
    positive gross, fee in the same currency, 0 <= fee <= gross, so the net is never negative
    (a zero net, where the platform keeps everything, is a valid credit of nothing)."""

    payment_order_id: str
    seller_account: str
    gross: Money
    fee: Money

    def __post_init__(self) -> None:
        if not self.payment_order_id:
            raise InvalidCredit("payment_order_id is required")
        if not SELLER_ACCOUNT.match(self.seller_account):
            raise InvalidCredit(f"seller_account {self.seller_account!r} is not a valid account id")
        if self.fee.currency != self.gross.currency:
            raise InvalidCredit(
                f"fee currency {self.fee.currency} differs from amount currency "
                f"{self.gross.currency}"
            )
        for name, money in (("amount", self.gross), ("fee", self.fee)):
            try:
                exact = quantize(money.amount, money.currency) == money.amount
            except InvalidMoney as err:
                raise InvalidCredit(f"{name}: {err}") from None
            if not exact:
                raise InvalidCredit(
                    f"{name} {money.amount} has more decimals than {money.currency}"
                )
        if self.gross.amount <= 0:
            raise InvalidCredit(f"amount must be positive, got {self.gross.amount}")
        if self.fee.amount < 0:
            raise InvalidCredit(f"fee must not be negative, got {self.fee.amount}")
        if self.fee.amount > self.gross.amount:
            raise InvalidCredit(
                f"fee {self.fee.amount} exceeds amount {self.gross.amount}: net would be negative"
            )

    @property
    def currency(self) -> str:
        return self.gross.currency

    @property
    def net(self) -> Money:
        """What the seller is owed: gross - fee, never negative."""
        return self.gross - self.fee
