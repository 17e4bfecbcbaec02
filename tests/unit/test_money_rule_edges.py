"""The edges of the money rules, where mutation testing found them unguarded: amounts below
one unit, a zero fee, a fee of the whole amount, two lines on one account, a missing id, a
non-finite amount. Each test names the rule it holds (docs/mutation-testing.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_svc.domain import (
    PLATFORM_FEE_REVENUE,
    PSP_RECEIVABLE,
    AccountType,
    InvalidPosting,
    InvalidTransaction,
    Posting,
    Side,
    Transaction,
    UnbalancedTransaction,
    UnknownAccount,
    account_type,
    payment_order_succeeded,
    payment_refunded,
    seller_payable,
)
from mesh.money import InvalidMoney, Money, fee_for, to_minor_units
from wallet_svc.domain import Balance, Credit, InvalidRefundDebit, RefundDebit

D = Decimal
SELLER = seller_payable("seller-1")


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def lines(tx: Transaction) -> dict[tuple[str, Side], Decimal]:
    return {(p.account, p.side): p.amount for p in tx.postings}


# --- mesh.money ---------------------------------------------------------------------------


def test_money_adds_in_one_currency_only() -> None:
    assert usd("1.25") + usd("0.75") == usd("2.00")
    with pytest.raises(ValueError, match="currency mismatch: USD and EUR"):
        usd("1.00") + Money(D("1.00"), "EUR")


def test_a_fee_rate_is_between_0_and_1_both_included() -> None:
    assert fee_for(usd("10.00"), D("0")) == usd("0")
    assert fee_for(usd("10.00"), D("1")) == usd("10.00")
    for rate in ("-0.01", "1.01", "1.5"):
        with pytest.raises(ValueError, match="fee rate must be between 0 and 1"):
            fee_for(usd("10.00"), D(rate))


def test_sub_minor_unit_digits_are_an_amount_precision_error() -> None:
    with pytest.raises(InvalidMoney) as err:
        to_minor_units(D("1.005"), "USD")
    assert err.value.rule == "amount.precision"
    assert "1.005 has sub-minor-unit digits in USD" in str(err.value)


# --- wallet -------------------------------------------------------------------------------


def test_a_credit_below_one_unit_is_still_a_credit() -> None:
    assert Credit("po-1", "seller-1", usd("0.50"), usd("0.05")).net == usd("0.45")
    assert Balance("USD").credit_pending(D("0.50")).pending == D("0.50")
    assert Balance("USD", pending=D("1.00")).credit_pending(D("0")).pending == D("1.00")


def test_a_refund_debit_needs_both_ids() -> None:
    for refund_id, order_id in (("", "po-1"), ("rf-1", ""), ("", "")):
        with pytest.raises(InvalidRefundDebit, match="refund_id and payment_order_id"):
            RefundDebit(refund_id, order_id, "seller-1", usd("1.00"), usd("0.10"))


def test_a_refund_debit_s_fee_may_be_zero_or_all_and_its_amount_below_one_unit() -> None:
    assert RefundDebit("rf-1", "po-1", "seller-1", usd("0.50"), usd("0")).net == usd("0.50")
    assert RefundDebit("rf-1", "po-1", "seller-1", usd("0.50"), usd("0.50")).net == usd("0")
    with pytest.raises(InvalidRefundDebit, match="amount must be positive"):
        RefundDebit("rf-1", "po-1", "seller-1", usd("0"), usd("0"))
    with pytest.raises(InvalidRefundDebit, match="between 0 and the amount"):
        RefundDebit("rf-1", "po-1", "seller-1", usd("0.50"), usd("0.51"))


# --- ledger: one payment ------------------------------------------------------------------


def test_a_payment_below_one_unit_posts_every_line() -> None:
    tx = payment_order_succeeded("tx-1", "po-1", "seller-1", usd("0.60"), usd("0.10"))
    assert lines(tx) == {
        (PSP_RECEIVABLE, Side.DEBIT): D("0.60"),
        (SELLER, Side.CREDIT): D("0.50"),
        (PLATFORM_FEE_REVENUE, Side.CREDIT): D("0.10"),
    }


def test_a_payment_of_nothing_is_refused() -> None:
    with pytest.raises(InvalidTransaction):
        payment_order_succeeded("tx-1", "po-1", "seller-1", usd("0"), usd("0"))


# --- ledger: one refund -------------------------------------------------------------------


def test_a_refund_reversal_needs_both_ids() -> None:
    for refund_id, order_id in (("", "po-1"), ("rf-1", ""), ("", "")):
        with pytest.raises(InvalidTransaction, match="refund_id and payment_order_id"):
            payment_refunded("tx-1", refund_id, order_id, "seller-1", usd("1.00"), usd("0.10"))


@pytest.mark.parametrize(
    ("amount", "fee", "expected"),
    [
        # below one unit, every line there
        ("0.60", "0.10", {SELLER: "0.50", PLATFORM_FEE_REVENUE: "0.10"}),
        # no fee given back: no fee line
        ("0.50", "0", {SELLER: "0.50"}),
        # the whole amount was fee: no seller line
        ("0.50", "0.50", {PLATFORM_FEE_REVENUE: "0.50"}),
    ],
)
def test_a_refund_reversal_leaves_out_only_its_zero_lines(
    amount: str, fee: str, expected: dict[str, str]
) -> None:
    tx = payment_refunded("tx-1", "rf-1", "po-1", "seller-1", usd(amount), usd(fee))
    want = {(account, Side.DEBIT): D(value) for account, value in expected.items()}
    want[(PSP_RECEIVABLE, Side.CREDIT)] = D(amount)
    assert lines(tx) == want
    assert tx.refund_id == "rf-1"


def test_a_refund_reversal_of_nothing_or_with_too_much_fee_is_refused() -> None:
    for amount, fee in (("0", "0"), ("1.00", "1.01"), ("1.00", "-0.01")):
        with pytest.raises(InvalidTransaction):
            payment_refunded("tx-1", "rf-1", "po-1", "seller-1", usd(amount), usd(fee))


# --- ledger: transactions and lines -------------------------------------------------------


def test_two_lines_on_one_account_add_up_in_its_balance_delta() -> None:
    tx = Transaction(
        "tx-1",
        "two debits of one account",
        [
            Posting(PSP_RECEIVABLE, Side.DEBIT, D("1.00"), "USD"),
            Posting(PSP_RECEIVABLE, Side.DEBIT, D("2.00"), "USD"),
            Posting(SELLER, Side.CREDIT, D("3.00"), "USD"),
        ],  # type: ignore[arg-type]  # a list is taken, and kept as a tuple
    )
    assert isinstance(tx.postings, tuple)
    deltas = {d.account: (d.debits, d.credits) for d in tx.balance_deltas()}
    assert deltas == {PSP_RECEIVABLE: (D("3.00"), D("0")), SELLER: (D("0"), D("3.00"))}


def test_an_amount_that_is_not_a_finite_decimal_is_refused() -> None:
    for amount in (D("NaN"), D("Infinity"), 1.5):
        with pytest.raises(InvalidPosting, match="finite Decimal"):
            Posting(PSP_RECEIVABLE, Side.DEBIT, amount, "USD")  # type: ignore[arg-type]


def test_an_unbalanced_transaction_says_by_how_much() -> None:
    with pytest.raises(UnbalancedTransaction) as err:
        Transaction(
            "tx-1",
            "off by a cent",
            (
                Posting(PSP_RECEIVABLE, Side.DEBIT, D("1.00"), "USD"),
                Posting(SELLER, Side.CREDIT, D("0.99"), "USD"),
            ),
        )
    assert (err.value.currency, err.value.debits, err.value.credits) == (
        "USD",
        D("1.00"),
        D("0.99"),
    )


def test_only_accounts_of_the_chart_are_accounts() -> None:
    assert account_type(seller_payable("seller-1")) is AccountType.LIABILITY
    for account in ("bogus:seller-1", "seller_payable:", "seller_payable", "psp_receivable:x"):
        with pytest.raises(UnknownAccount):
            account_type(account)
