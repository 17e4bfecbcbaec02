"""The ledger's rules without I/O: balancing, lines, accounts and their normal sides."""

from decimal import Decimal

import pytest

from ledger_svc.domain import (
    PLATFORM_FEE_REVENUE,
    PSP_RECEIVABLE,
    AccountBalance,
    AccountType,
    EmptyTransaction,
    InvalidPosting,
    InvalidTransaction,
    NonPositivePosting,
    Posting,
    Side,
    Transaction,
    UnbalancedTransaction,
    UnknownAccount,
    account_type,
    normal_side,
    payment_order_succeeded,
    seller_payable,
)
from mesh.money import Money

D = Decimal
SELLER = seller_payable("seller-1")


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def debit(account: str, amount: str, currency: str = "USD") -> Posting:
    return Posting(account, Side.DEBIT, D(amount), currency)


def credit(account: str, amount: str, currency: str = "USD") -> Posting:
    return Posting(account, Side.CREDIT, D(amount), currency)


def test_a_balanced_transaction_is_accepted() -> None:
    txn = Transaction(
        "t1",
        "sale",
        (debit(PSP_RECEIVABLE, "100.00"), credit(SELLER, "90"), credit(PLATFORM_FEE_REVENUE, "10")),
    )
    assert len(txn.postings) == 3


def test_an_unbalanced_transaction_is_refused() -> None:
    with pytest.raises(UnbalancedTransaction, match=r"USD: debits 100.00 != credits 99"):
        Transaction("t1", "sale", (debit(PSP_RECEIVABLE, "100.00"), credit(SELLER, "99")))


def test_a_transaction_with_only_debits_is_refused() -> None:
    with pytest.raises(UnbalancedTransaction):
        Transaction("t1", "x", (debit(PSP_RECEIVABLE, "1"),))


def test_an_empty_transaction_is_refused() -> None:
    with pytest.raises(EmptyTransaction):
        Transaction("t1", "nothing", ())


@pytest.mark.parametrize("amount", ["0", "-5.00", "-0.01"])
def test_a_non_positive_line_is_refused(amount: str) -> None:
    with pytest.raises(NonPositivePosting):
        debit(PSP_RECEIVABLE, amount)


def test_a_negative_line_cannot_balance_a_transaction() -> None:
    # 100 debit = 110 credit + (-10) credit would sum to zero; the negative line is refused.
    with pytest.raises(NonPositivePosting):
        Transaction(
            "t1",
            "x",
            (
                debit(PSP_RECEIVABLE, "100"),
                credit(SELLER, "110"),
                credit(PLATFORM_FEE_REVENUE, "-10"),
            ),
        )


def test_balance_is_required_in_each_currency_not_in_total() -> None:
    # 10 USD + 10 EUR debited, 20 USD credited: the grand total is even, each currency is not.
    with pytest.raises(UnbalancedTransaction) as info:
        Transaction(
            "t1",
            "fx",
            (debit(PSP_RECEIVABLE, "10"), debit(PSP_RECEIVABLE, "10", "EUR"), credit(SELLER, "20")),
        )
    assert info.value.currency == "EUR"


def test_a_mixed_currency_transaction_balanced_in_each_is_accepted() -> None:
    Transaction(
        "t1",
        "fx",
        (
            debit(PSP_RECEIVABLE, "10"),
            credit(SELLER, "10"),
            debit(PSP_RECEIVABLE, "1000", "JPY"),
            credit(SELLER, "1000", "JPY"),
        ),
    )


def test_a_line_with_more_decimals_than_its_currency_is_refused() -> None:
    with pytest.raises(InvalidPosting):
        debit(PSP_RECEIVABLE, "1.5", "JPY")
    with pytest.raises(InvalidPosting):
        debit(PSP_RECEIVABLE, "1.005", "USD")


def test_unknown_currency_and_unknown_account_are_refused() -> None:
    with pytest.raises(InvalidPosting):
        debit(PSP_RECEIVABLE, "1", "XXY")
    with pytest.raises(InvalidPosting):
        debit("cash_in_drawer", "1")
    with pytest.raises(InvalidPosting):
        debit("seller_payable", "1")  # a family needs its party


def test_a_transaction_changed_after_construction_is_refused_by_check() -> None:
    txn = Transaction("t1", "x", (debit(PSP_RECEIVABLE, "5"), credit(SELLER, "5")))
    object.__setattr__(txn, "postings", (debit(PSP_RECEIVABLE, "5"), credit(SELLER, "4")))
    with pytest.raises(UnbalancedTransaction):
        txn.check()


def test_all_refusals_are_invalid_transactions() -> None:
    for cls in (EmptyTransaction, NonPositivePosting, InvalidPosting, UnbalancedTransaction):
        assert issubclass(cls, InvalidTransaction)


def test_normal_sides() -> None:
    assert account_type(PSP_RECEIVABLE) is AccountType.ASSET
    assert normal_side(PSP_RECEIVABLE) is Side.DEBIT
    assert normal_side(SELLER) is Side.CREDIT
    assert normal_side(PLATFORM_FEE_REVENUE) is Side.CREDIT
    with pytest.raises(UnknownAccount):
        normal_side("suspense")
    with pytest.raises(UnknownAccount):
        seller_payable("bad seller!")


def test_balances_are_read_on_the_normal_side() -> None:
    assert AccountBalance(PSP_RECEIVABLE, "USD", D("100"), D("30")).balance == D("70")
    assert AccountBalance(SELLER, "USD", D("30"), D("100")).balance == D("70")
    assert AccountBalance(PLATFORM_FEE_REVENUE, "USD", D("0"), D("10")).balance == D("10")
    # A credit-normal account debited beyond its credits shows a negative balance.
    assert AccountBalance(SELLER, "USD", D("5"), D("0")).balance == D("-5")


def test_a_succeeded_order_posts_gross_net_and_fee() -> None:
    txn = payment_order_succeeded("t1", "po-1", "seller-1", usd("100.00"), usd("2.90"))
    lines = {(p.account, p.side, p.amount) for p in txn.postings}
    assert lines == {
        (PSP_RECEIVABLE, Side.DEBIT, D("100.00")),
        (SELLER, Side.CREDIT, D("97.10")),
        (PLATFORM_FEE_REVENUE, Side.CREDIT, D("2.90")),
    }
    assert txn.payment_order_id == "po-1"
    assert "po-1" in txn.description


def test_zero_lines_are_left_out() -> None:
    no_fee = payment_order_succeeded("t1", "po-1", "seller-1", usd("10"), usd("0"))
    assert [p.account for p in no_fee.postings] == [PSP_RECEIVABLE, SELLER]
    all_fee = payment_order_succeeded("t2", "po-2", "seller-1", usd("10"), usd("10"))
    assert [p.account for p in all_fee.postings] == [PSP_RECEIVABLE, PLATFORM_FEE_REVENUE]


@pytest.mark.parametrize(
    ("gross", "fee", "match"),
    [
        (usd("10"), usd("10.01"), "between 0 and amount"),
        (usd("10"), Money(D("1"), "EUR"), "currency"),
        (usd("10"), usd("-1"), "between 0 and amount"),
        (usd("0"), usd("0"), "positive"),
    ],
)
def test_an_impossible_order_is_refused(gross: Money, fee: Money, match: str) -> None:
    with pytest.raises(InvalidTransaction, match=match):
        payment_order_succeeded("t1", "po-1", "seller-1", gross, fee)


def test_balance_deltas_lock_the_shared_accounts_last() -> None:
    txn = payment_order_succeeded("t1", "po-1", "zz-seller", usd("100"), usd("10"))
    accounts = [d.account for d in txn.balance_deltas()]
    assert accounts == ["seller_payable:zz-seller", PLATFORM_FEE_REVENUE, PSP_RECEIVABLE]
    deltas = {d.account: (d.debits, d.credits) for d in txn.balance_deltas()}
    assert deltas[PSP_RECEIVABLE] == (D("100"), D("0"))
    assert deltas["seller_payable:zz-seller"] == (D("0"), D("90"))
