"""Reconciliation's rules without I/O: every mismatch type a candidate can show, every class
and fix rule, the report's columns and the period's bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from recon_svc.domain.classes import Action, FixRule, MismatchClass, classify
from recon_svc.domain.mismatches import Detail, Mismatch, MismatchType, find_mismatches
from recon_svc.domain.period import Period
from recon_svc.domain.psp_columns import UnknownReportFormat, map_columns
from recon_svc.domain.records import (
    Candidate,
    CandidateKind,
    MatchRule,
    OrderRecord,
    PspTransaction,
    RefundRecord,
)

D = Decimal
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def charge(**changes: object) -> PspTransaction:
    fields: dict[str, object] = dict(
        id="txn_1",
        category="charge",
        source="ch_1",
        payment_intent="pi_1",
        payment_order_id="po_1",
        refund_id="",
        gross=D("120.00"),
        fee=D("3.78"),
        currency="USD",
        created=AT,
    )
    fields.update(changes)
    return PspTransaction(**fields)  # type: ignore[arg-type]


def order(**changes: object) -> OrderRecord:
    fields: dict[str, object] = dict(
        payment_order_id="po_1",
        psp_reference="pi_1",
        status="SUCCESS",
        amount=D("120.00"),
        currency="USD",
        psp_fee=None,
        created_at=AT,
    )
    fields.update(changes)
    return OrderRecord(**fields)  # type: ignore[arg-type]


def psp_refund(**changes: object) -> PspTransaction:
    base = dict(id="txn_r1", category="refund", source="re_1", refund_id="rf_1", gross=D("-20.00"))
    return charge(**{"fee": D(0), **base, **changes})


def refund(**changes: object) -> RefundRecord:
    fields: dict[str, object] = dict(
        refund_id="rf_1",
        payment_order_id="po_1",
        psp_reference="re_1",
        status="SUCCEEDED",
        amount=D("20.00"),
        currency="USD",
        created_at=AT,
    )
    fields.update(changes)
    return RefundRecord(**fields)  # type: ignore[arg-type]


def pair(rule: MatchRule = MatchRule.PSP_ID, **kw: object) -> list[Mismatch]:
    return find_mismatches(Candidate(CandidateKind.CHARGE_PAIR, rule, charge(), order(**kw)))


def types(found: list[Mismatch]) -> list[tuple[MismatchType, Detail]]:
    return [(m.type, m.detail) for m in found]


# -- typing -------------------------------------------------------------------------------


def test_a_pair_that_agrees_is_no_mismatch() -> None:
    assert pair() == []
    assert pair(psp_fee=D("3.78")) == []


def test_amount_currency_and_fee_differences() -> None:
    assert types(pair(amount=D("119.00"))) == [(MismatchType.AMOUNT, Detail.NONE)]
    assert types(pair(psp_fee=D("3.50"))) == [(MismatchType.FEE, Detail.NONE)]
    # Another currency: amounts cannot be compared, so only the currency is the mismatch.
    assert types(pair(currency="EUR", amount=D("1"))) == [(MismatchType.CURRENCY, Detail.NONE)]


def test_an_unbooked_fee_is_not_a_fee_mismatch() -> None:
    assert pair(psp_fee=None) == []


@pytest.mark.parametrize("status", ["NOT_STARTED", "EXECUTING", "PENDING"])
def test_psp_charged_an_unsettled_order(status: str) -> None:
    assert types(pair(status=status)) == [(MismatchType.STATUS, Detail.ORDER_UNSETTLED)]


def test_psp_charged_a_failed_order_and_the_amount_differs_too() -> None:
    assert types(pair(status="FAILED", amount=D("1.00"))) == [
        (MismatchType.STATUS, Detail.ORDER_FAILED),
        (MismatchType.AMOUNT, Detail.NONE),
    ]


def test_duplicate_charge() -> None:
    found = find_mismatches(
        Candidate(CandidateKind.DUPLICATE_CHARGE, MatchRule.METADATA, charge(id="t2"), order())
    )
    assert types(found) == [(MismatchType.DUPLICATE_CHARGE, Detail.NONE)]
    assert found[0].key == ("duplicate_charge", "", "t2", "po_1", "")


def test_a_charge_alone_is_missing_ours_when_it_names_an_order_else_unmatched() -> None:
    alone = find_mismatches(Candidate(CandidateKind.CHARGE_ALONE, psp=charge()))
    assert types(alone) == [(MismatchType.MISSING_OURS, Detail.NONE)]
    assert alone[0].key == ("missing_ours", "", "txn_1", "po_1", "")
    nameless = find_mismatches(
        Candidate(CandidateKind.CHARGE_ALONE, psp=charge(payment_order_id=""))
    )
    assert types(nameless) == [(MismatchType.UNMATCHED_PSP, Detail.NONE)]


def test_an_order_alone_is_missing_at_the_psp_only_when_it_succeeded() -> None:
    found = find_mismatches(Candidate(CandidateKind.ORDER_ALONE, order=order()))
    assert types(found) == [(MismatchType.MISSING_AT_PSP, Detail.NONE)]
    for status in ("FAILED", "PENDING", "EXECUTING", "NOT_STARTED"):
        assert (
            find_mismatches(Candidate(CandidateKind.ORDER_ALONE, order=order(status=status))) == []
        )


def test_other_psp_categories_are_unmatched() -> None:
    found = find_mismatches(Candidate(CandidateKind.OTHER_PSP, psp=charge(category="adjustment")))
    assert types(found) == [(MismatchType.UNMATCHED_PSP, Detail.NONE)]


def refund_pair(rule: MatchRule = MatchRule.PSP_ID, psp: dict | None = None, **kw: object):  # type: ignore[no-untyped-def]
    candidate = Candidate(
        CandidateKind.REFUND_PAIR, rule, psp_refund(**(psp or {})), refund=refund(**kw)
    )
    return types(find_mismatches(candidate))


def test_refund_differences() -> None:
    assert refund_pair() == []
    assert refund_pair(status="PENDING") == [(MismatchType.REFUND, Detail.REFUND_PENDING)]
    assert refund_pair(status="FAILED") == [(MismatchType.REFUND, Detail.REFUND_FAILED)]
    assert refund_pair(amount=D("21.00")) == [(MismatchType.REFUND, Detail.REFUND_AMOUNT)]
    assert refund_pair(currency="EUR") == [(MismatchType.REFUND, Detail.REFUND_CURRENCY)]
    dup = find_mismatches(
        Candidate(CandidateKind.DUPLICATE_REFUND, MatchRule.METADATA, psp_refund(), refund=refund())
    )
    assert types(dup) == [(MismatchType.REFUND, Detail.REFUND_DUPLICATE)]


def test_refunds_alone() -> None:
    theirs = find_mismatches(Candidate(CandidateKind.PSP_REFUND_ALONE, psp=psp_refund()))
    assert types(theirs) == [(MismatchType.REFUND, Detail.REFUND_MISSING_OURS)]
    bare = psp_refund(refund_id="", payment_order_id="")
    assert types(find_mismatches(Candidate(CandidateKind.PSP_REFUND_ALONE, psp=bare))) == [
        (MismatchType.UNMATCHED_PSP, Detail.NONE)
    ]
    ours = find_mismatches(Candidate(CandidateKind.OUR_REFUND_ALONE, refund=refund()))
    assert types(ours) == [(MismatchType.REFUND, Detail.REFUND_MISSING_AT_PSP)]
    assert ours[0].key == ("refund", "refund_missing_at_psp", "", "po_1", "rf_1")
    for status in ("PENDING", "FAILED"):
        alone = Candidate(CandidateKind.OUR_REFUND_ALONE, refund=refund(status=status))
        assert find_mismatches(alone) == []


def test_evidence_names_both_sides_in_decimal_strings() -> None:
    (found,) = pair(amount=D("119.00"), psp_fee=D("3.78"))
    facts = found.evidence()
    assert facts["psp_gross"] == "120.00" and facts["order_amount"] == "119.00"
    assert facts["matched_by"] == "psp_id" and facts["order_psp_fee"] == "3.78"
    assert facts["psp_transaction_id"] == "txn_1" and facts["payment_order_id"] == "po_1"


# -- classes ------------------------------------------------------------------------------


def classes(found: list[Mismatch]) -> list[tuple[MismatchClass, FixRule, Action]]:
    return [(c.mismatch_class, c.rule, c.action) for c in (classify(m) for m in found)]


def test_class_1_an_unsettled_order_tied_by_id_or_metadata_is_settled() -> None:
    for rule in (MatchRule.PSP_ID, MatchRule.METADATA):
        assert classes(pair(rule, status="EXECUTING")) == [
            (MismatchClass.AUTO_FIXED, FixRule.SETTLE_ORDER_FROM_PSP, Action.NONE)
        ]


def test_class_1_a_pending_refund_the_psp_refunded_is_settled() -> None:
    candidate = Candidate(
        CandidateKind.REFUND_PAIR, MatchRule.PSP_ID, psp_refund(), refund=refund(status="PENDING")
    )
    assert classes(find_mismatches(candidate)) == [
        (MismatchClass.AUTO_FIXED, FixRule.SETTLE_REFUND_FROM_PSP, Action.NONE)
    ]


def test_no_fix_rests_on_a_tie_by_amount_and_date() -> None:
    fuzzy = MatchRule.AMOUNT_CURRENCY_DATE
    assert classes(pair(fuzzy, status="EXECUTING")) == [
        (MismatchClass.NEEDS_PERSON, FixRule.NONE, Action.INVESTIGATE)
    ]
    candidate = Candidate(
        CandidateKind.REFUND_PAIR, fuzzy, psp_refund(), refund=refund(status="PENDING")
    )
    assert classes(find_mismatches(candidate))[0][0] is MismatchClass.NEEDS_PERSON


@pytest.mark.parametrize(
    ("found", "action"),
    [
        (pair(status="FAILED"), Action.REFUND),
        (pair(amount=D("1.00")), Action.INVESTIGATE),
        (pair(currency="EUR"), Action.INVESTIGATE),
        (pair(psp_fee=D("1.00")), Action.ACCEPT),
        (
            find_mismatches(
                Candidate(CandidateKind.DUPLICATE_CHARGE, MatchRule.METADATA, charge(), order())
            ),
            Action.REFUND,
        ),
        (find_mismatches(Candidate(CandidateKind.CHARGE_ALONE, psp=charge())), Action.REFUND),
        (find_mismatches(Candidate(CandidateKind.ORDER_ALONE, order=order())), Action.INVESTIGATE),
        (
            find_mismatches(Candidate(CandidateKind.OUR_REFUND_ALONE, refund=refund())),
            Action.INVESTIGATE,
        ),
        (
            find_mismatches(Candidate(CandidateKind.PSP_REFUND_ALONE, psp=psp_refund())),
            Action.INVESTIGATE,
        ),
    ],
)
def test_class_2_needs_a_person_with_a_suggested_action(
    found: list[Mismatch], action: Action
) -> None:
    (c,) = [classify(m) for m in found]
    assert c.mismatch_class is MismatchClass.NEEDS_PERSON
    assert c.action is action and c.rule is FixRule.NONE and c.reason


def test_class_3_what_names_nothing_of_ours() -> None:
    found = find_mismatches(Candidate(CandidateKind.OTHER_PSP, psp=charge(category="dispute")))
    assert classes(found) == [(MismatchClass.UNCLASSIFIABLE, FixRule.NONE, Action.INVESTIGATE)]


# -- report columns and periods -----------------------------------------------------------


def test_stripe_itemized_and_sandbox_headers_map_onto_the_same_names() -> None:
    stripe = map_columns(
        [
            "balance_transaction_id",
            "created_utc",
            "reporting_category",
            "source_id",
            "payment_intent_id",
            "payment_metadata[payment_order_id]",
            "currency",
            "gross",
            "fee",
            "net",
        ]
    )
    assert stripe["id"] == "balance_transaction_id" and stripe["gross"] == "gross"
    assert stripe["payment_order_id"] == "payment_metadata[payment_order_id]"
    assert stripe["refund_id"] is None
    sandbox = map_columns(
        [
            "balance_transaction_id",
            "created",
            "available_on",
            "type",
            "source",
            "payment_intent",
            "payment_order_id",
            "currency",
            "amount",
            "fee",
            "net",
        ]
    )
    assert sandbox["category"] == "type" and sandbox["gross"] == "amount"


def test_a_report_without_amounts_is_refused_in_words() -> None:
    with pytest.raises(UnknownReportFormat, match="gross or amount"):
        map_columns(["balance_transaction_id", "type", "currency", "created"])


def test_a_day_and_its_margin() -> None:
    period = Period.day(date(2026, 12, 1))
    assert period.contains(datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC))
    assert not period.contains(datetime(2026, 12, 2, tzinfo=UTC))
    assert period.read_from == datetime(2026, 11, 30, tzinfo=UTC)
    assert period.read_until == datetime(2026, 12, 3, tzinfo=UTC)
    with pytest.raises(ValueError):
        Period(AT, AT - timedelta(seconds=1))
