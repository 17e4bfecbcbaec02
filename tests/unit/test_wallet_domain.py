"""The wallet's credit rule and balances, without I/O."""

from decimal import Decimal

import pytest

from mesh.money import Money
from wallet_svc.domain import Balance, Credit, InvalidCredit

D = Decimal


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def test_the_seller_is_credited_gross_minus_fee() -> None:
    credit = Credit("po-1", "seller-1", usd("100.00"), usd("2.90"))
    assert credit.net == usd("97.10")
    assert credit.currency == "USD"


def test_a_fee_of_the_whole_amount_credits_zero() -> None:
    assert Credit("po-1", "seller-1", usd("10"), usd("10")).net.amount == 0


@pytest.mark.parametrize(
    ("gross", "fee", "match"),
    [
        (usd("10.00"), usd("10.01"), "net would be negative"),
        (usd("10.00"), Money(D("1"), "EUR"), "currency"),
        (usd("10.00"), usd("-1"), "must not be negative"),
        (usd("0"), usd("0"), "must be positive"),
        (usd("10.001"), usd("0"), "more decimals"),
        (Money(D("10"), "XXY"), Money(D("0"), "XXY"), "unknown ISO 4217"),
    ],
)
def test_an_impossible_credit_is_refused(gross: Money, fee: Money, match: str) -> None:
    with pytest.raises(InvalidCredit, match=match):
        Credit("po-1", "seller-1", gross, fee)


@pytest.mark.parametrize("seller", ["", "has space", "x" * 65])
def test_a_bad_seller_account_is_refused(seller: str) -> None:
    with pytest.raises(InvalidCredit):
        Credit("po-1", seller, usd("1"), usd("0"))


def test_an_order_id_is_required() -> None:
    with pytest.raises(InvalidCredit):
        Credit("", "seller-1", usd("1"), usd("0"))


def test_balance_total_and_pending_credit() -> None:
    balance = Balance("USD", pending=D("1"), available=D("2"), reserved=D("3"))
    assert balance.total == D("6")
    credited = balance.credit_pending(D("4.50"))
    assert credited.pending == D("5.50")
    assert credited.total == D("10.50")
    assert Balance("EUR").total == 0
    with pytest.raises(ValueError):
        balance.credit_pending(D("-1"))
