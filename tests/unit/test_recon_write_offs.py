"""The finance queue's money rules (recon_svc.domain.queue): which difference a write-off books
and which way, the per-currency limit, which refund a mismatch gets; and the limits setting."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from mesh.settings import SettingsError
from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.queue import (
    MismatchStatus,
    ResolutionAction,
    ResolutionRefused,
    StoredMismatch,
    WriteOffLimits,
    check_resolution,
    gives_back_a_charge,
    refundable,
    signed_difference,
)
from recon_svc.settings import parse_write_off_limits

pytestmark = pytest.mark.unit

D = Decimal
LIMITS = WriteOffLimits(D("10.00"), {"JPY": D("1500")})


def mismatch(type_: str, status: MismatchStatus = MismatchStatus.OPEN, **facts: str):  # type: ignore[no-untyped-def]
    return StoredMismatch(
        "mm_1", "key", type_, facts.get("detail", ""), MismatchClass.NEEDS_PERSON, status,
        date(2026, 12, 1), "run_1", "run_1", dict(facts), "", "", "", datetime.now(UTC),
    )  # fmt: skip


CHARGE = {"psp_gross": "30.05", "psp_currency": "USD", "psp_category": "charge"}
ORDER = {"payment_order_id": "po-1", "order_amount": "30.00", "order_currency": "USD"}


@pytest.mark.parametrize(
    ("type_", "facts", "expected"),
    [
        # The PSP took 0.05 more than the order it paid: it holds more than the books.
        ("amount", {**CHARGE, **ORDER, "order_status": "SUCCESS"}, ("0.05", "USD")),
        # A charge on a FAILED order is nowhere in the books: all of it.
        ("status", {**CHARGE, **ORDER, "order_status": "FAILED"}, ("30.05", "USD")),
        # The first charge matched the order; the duplicate is all extra.
        ("duplicate_charge", {**CHARGE, **ORDER, "order_status": "SUCCESS"}, ("30.05", "USD")),
        # A SUCCESS order the PSP never charged: the books hold what the PSP does not.
        ("missing_at_psp", {**ORDER, "order_status": "SUCCESS"}, ("-30.00", "USD")),
        # Our SUCCEEDED refund of 5.00, the PSP's of 4.00 (-4.00 gross): it holds 1.00 more.
        (
            "refund",
            {"psp_gross": "-4.00", "psp_currency": "USD", "refund_amount": "5.00",
             "refund_status": "SUCCEEDED", "detail": "refund_amount"},
            ("1.00", "USD"),
        ),
        # The PSP's fee is 0.10 higher than the one booked: it holds 0.10 less.
        (
            "fee",
            {"psp_fee": "0.40", "order_psp_fee": "0.30", "psp_currency": "USD"},
            ("-0.10", "USD"),
        ),
    ],
)  # fmt: skip
def test_the_difference_is_what_the_psp_holds_beyond_the_books(
    type_: str, facts: dict[str, str], expected: tuple[str, str]
) -> None:
    signed, currency = signed_difference(mismatch(type_, **facts))
    assert (signed, currency) == (D(expected[0]), expected[1])


def test_a_write_off_is_allowed_up_to_its_currencys_limit_only() -> None:
    small = mismatch("amount", **CHARGE, **ORDER, order_status="SUCCESS")
    check_resolution(small, ResolutionAction.WRITE_OFF, "", LIMITS)
    yen = mismatch("amount", psp_gross="11500", psp_currency="JPY", order_amount="10000",
                   order_status="SUCCESS")  # fmt: skip
    check_resolution(yen, ResolutionAction.WRITE_OFF, "", LIMITS)  # 1500 JPY: at the limit
    for big in (
        mismatch("amount", psp_gross="50.00", psp_currency="USD", order_amount="30.00",
                 order_status="SUCCESS"),
        mismatch("amount", psp_gross="11501", psp_currency="JPY", order_amount="10000",
                 order_status="SUCCESS"),
    ):  # fmt: skip
        with pytest.raises(ResolutionRefused) as refused:
            check_resolution(big, ResolutionAction.WRITE_OFF, "", LIMITS)
        assert refused.value.reason == "WRITE_OFF_ABOVE_THRESHOLD"


@pytest.mark.parametrize(
    "m",
    [
        mismatch("currency", psp_gross="10.00", psp_currency="EUR", order_amount="10.00",
                 order_currency="USD", order_status="SUCCESS"),
        mismatch("amount", psp_gross="10.00", psp_currency="USD", order_amount="10.00",
                 order_status="SUCCESS"),
        mismatch("fee", psp_fee="0.30", psp_currency="USD"),
    ],
)  # fmt: skip
def test_no_write_off_without_one_difference_in_one_currency(m: StoredMismatch) -> None:
    with pytest.raises(ResolutionRefused) as refused:
        check_resolution(m, ResolutionAction.WRITE_OFF, "", LIMITS)
    assert refused.value.reason == "WRITE_OFF_NOT_POSSIBLE"


def test_a_decided_mismatch_takes_no_other_decision_but_a_note() -> None:
    done = mismatch("amount", MismatchStatus.RESOLVED, **CHARGE, **ORDER, order_status="SUCCESS")
    with pytest.raises(ResolutionRefused) as refused:
        check_resolution(done, ResolutionAction.WRITE_OFF, "", LIMITS)
    assert refused.value.reason == "MISMATCH_NOT_OPEN"
    check_resolution(done, ResolutionAction.NOTE, "called the PSP", LIMITS)


def test_a_duplicate_is_refunded_as_its_own_charge_and_needs_its_id() -> None:
    dup = mismatch("duplicate_charge", **CHARGE, **ORDER, psp_source="ch_2")
    assert gives_back_a_charge(dup) and refundable(dup)
    assert not refundable(mismatch("duplicate_charge", **CHARGE, **ORDER))
    failed = mismatch("status", **CHARGE, **ORDER, order_status="FAILED")
    assert not gives_back_a_charge(failed) and refundable(failed)


def test_the_limits_setting_reads_currency_limit_pairs() -> None:
    assert parse_write_off_limits(" jpy=1500, USD=2.50 ,") == {"JPY": D(1500), "USD": D("2.50")}
    assert parse_write_off_limits("") == {}
    for bad in ("JPY", "XXQ=1", "USD=-1", "USD=ten"):
        with pytest.raises(SettingsError):
            parse_write_off_limits(bad)
