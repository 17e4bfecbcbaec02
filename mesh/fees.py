"""The fee rule of a charge and of a refund, written once: every domain that splits an amount
into what the seller gets and what the platform keeps (the wallet's credits and refund debits,
the ledger's payment and refund postings) checks it through `net_of_fee`. No I/O here.

Its database guards, which refuse a row that breaks it however it was written:
- wallet: `wallet_credits_gross_positive`, `wallet_credits_fee_range`,
  `wallet_credits_amount_is_net` (wallet migration 0001) and the `wallet_refund_debits_*`
  checks (migration 0002);
- ledger: `entries_amount_positive` and the `entries_balanced` trigger (ledger migration 0001).
"""

from __future__ import annotations

from mesh.money import InvalidMoney, Money, quantize


class InvalidFee(ValueError):
    """The amount and its fee cannot be split as stated."""


def net_of_fee(
    gross: Money, fee: Money, *, gross_name: str = "amount", fee_name: str = "fee"
) -> Money:
    """`gross - fee`, after checking the rule: the fee in the amount's currency, both exact in
    it (no more decimals than it has), a positive amount and 0 <= fee <= amount, so the net is
    never negative (a zero net, where the platform keeps everything, is valid).
    `InvalidFee` names the field that breaks it."""
    if fee.currency != gross.currency:
        raise InvalidFee(
            f"{fee_name} currency {fee.currency} differs from {gross_name} currency "
            f"{gross.currency}"
        )
    for name, money in ((gross_name, gross), (fee_name, fee)):
        try:
            exact = quantize(money.amount, money.currency) == money.amount
        except InvalidMoney as err:
            raise InvalidFee(f"{name}: {err}") from None
        if not exact:
            raise InvalidFee(
                f"{name} {money.amount} has more decimals than {money.currency} allows"
            )
    if gross.amount <= 0:
        raise InvalidFee(f"{gross_name} must be positive, got {gross.amount}")
    if fee.amount < 0:
        raise InvalidFee(
            f"{fee_name} {fee.amount} must be between 0 and {gross_name} {gross.amount}: "
            "it must not be negative"
        )
    if fee.amount > gross.amount:
        raise InvalidFee(
            f"{fee_name} {fee.amount} must be between 0 and {gross_name} {gross.amount}: "
            "the net would be negative"
        )
    return gross - fee
