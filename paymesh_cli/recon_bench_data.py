"""The benchmark's period: N payment orders, about N PSP balance transactions, and mismatches
of every type planted from a seed, with the truth the reconciliation must find.

Files, written line by line (memory stays flat): the PSP's side in Stripe's
`balance_change_from_activity.itemized` column names, ours in the columns of
`recon_svc.service_layer.ports.OurFiles`. Planted rows carry amounts from a reserved range
(5000.00 and up, each used once), so no planted row can be tied by amount to an ordinary one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.mismatches import Detail, MismatchType
from recon_svc.domain.period import Period
from recon_svc.service_layer.ports import OurFiles

DAY = date(2026, 12, 1)
PSP_HEADER = (
    "balance_transaction_id,created_utc,available_on_utc,reporting_category,source_id,"
    "payment_intent_id,payment_metadata[payment_order_id],refund_metadata[refund_id],"
    "currency,gross,fee,net\n"
)
ORDERS_HEADER = "payment_order_id,psp_reference,status,amount,currency,psp_fee,created_at\n"
REFUNDS_HEADER = "refund_id,payment_order_id,psp_reference,status,amount,currency,created_at\n"

# What is planted on an ordinary order (index -> plant), and what is added beside them.
ON_ORDER = (
    "missing_at_psp",
    "amount",
    "currency",
    "fee",
    "duplicate_charge",
    "status_unsettled",
    "status_failed",
    "refund_pending",
    "refund_amount",
    "refund_missing_at_psp",
    "refund_missing_ours",
)
EXTRA = ("missing_ours", "status_by_amount", "unmatched_charge", "unmatched_adjustment")

Key = tuple[str, str, str, str, str]


@dataclass
class Planted:
    """The truth: every planted mismatch's key (as `Mismatch.key`) and its expected class."""

    expected: dict[Key, MismatchClass] = field(default_factory=dict)

    def add(
        self,
        kind: MismatchType,
        detail: Detail,
        psp_id: str,
        order_id: str,
        refund_id: str,
        cls: MismatchClass,
    ) -> None:
        self.expected[(kind.value, detail.value, psp_id, order_id, refund_id)] = cls


@dataclass(frozen=True)
class BenchData:
    period: Period
    psp_report: Path
    ours: OurFiles
    truth: Planted
    psp_rows: int
    order_rows: int


def per_kind(rows: int) -> int:
    """How many of each plant: a handful at small sizes, 50 at a million."""
    return max(3, rows // 20_000)


def generate(rows: int, seed: int, directory: Path) -> BenchData:
    if rows < 100:
        raise ValueError("the benchmark needs at least 100 rows")
    rng = random.Random(seed)
    period = Period.day(DAY)
    k = per_kind(rows)
    # Ordinary orders that get a plant: refunded ones are chosen apart from the others.
    picks = rng.sample(range(rows), k * len(ON_ORDER))
    plant_at = {index: ON_ORDER[n // k] for n, index in enumerate(picks)}
    truth = Planted()
    files = OurFiles(directory / "orders.csv", directory / "refunds.csv")
    psp_path = directory / "psp_report.csv"
    reserved = _reserved_amounts()
    psp_count = order_count = 0
    with (
        psp_path.open("w", encoding="utf-8") as psp,
        files.orders.open("w", encoding="utf-8") as orders,
        files.refunds.open("w", encoding="utf-8") as refunds,
    ):
        psp.write(PSP_HEADER)
        orders.write(ORDERS_HEADER)
        refunds.write(REFUNDS_HEADER)
        step = 86_000 / rows  # seconds between orders: the day, less room for the +60 s rows
        for i in range(rows):
            plant = plant_at.get(i)
            cents = rng.randint(100, 99_999)
            currency = "EUR" if i % 10 == 3 else "USD"
            second = int(i * step)
            order_id, intent, txn = f"po_{i:08d}", f"pi_{i:08d}", f"txn_{i:08d}"
            # 2 % of orders failed at the PSP (no balance transaction), 2 % are refunded in half.
            failed = plant is None and i % 50 == 7
            refunded = plant in ("refund_pending", "refund_amount", "refund_missing_at_psp") or (
                plant is None and i % 50 == 11
            )
            status = "FAILED" if failed or plant == "status_failed" else "SUCCESS"
            if plant == "status_unsettled":
                status = "EXECUTING"
            fee = _card_fee(cents)
            booked = fee if i % 2 == 0 or plant == "fee" else None
            order_count += 1
            orders.write(
                f"{order_id},{intent},{status},{_dec(cents)},{currency},"
                f"{'' if booked is None else _dec(booked)},{_ts(second)}\n"
            )
            if not failed and plant != "missing_at_psp":
                gross, psp_currency, psp_fee = cents, currency, fee
                if plant == "amount":
                    gross += 100
                    truth.add(MismatchType.AMOUNT, Detail.NONE, txn, order_id, "", _PERSON)
                elif plant == "currency":
                    psp_currency = "USD" if currency == "EUR" else "EUR"
                    truth.add(MismatchType.CURRENCY, Detail.NONE, txn, order_id, "", _PERSON)
                elif plant == "fee":
                    psp_fee += 1
                    truth.add(MismatchType.FEE, Detail.NONE, txn, order_id, "", _PERSON)
                elif plant == "status_unsettled":
                    truth.add(MismatchType.STATUS, Detail.ORDER_UNSETTLED, txn, order_id, "", _AUTO)
                elif plant == "status_failed":
                    truth.add(MismatchType.STATUS, Detail.ORDER_FAILED, txn, order_id, "", _PERSON)
                psp.write(
                    _psp_row(
                        txn,
                        second + 2,
                        "charge",
                        f"ch_{i:08d}",
                        intent,
                        order_id,
                        "",
                        psp_currency,
                        gross,
                        psp_fee,
                    )
                )
                psp_count += 1
                if plant == "duplicate_charge":
                    dup = f"txn_dup_{i:08d}"
                    psp.write(
                        _psp_row(
                            dup,
                            second + 30,
                            "charge",
                            f"ch_dup_{i:08d}",
                            f"pi_dup_{i:08d}",
                            order_id,
                            "",
                            currency,
                            cents,
                            fee,
                        )
                    )
                    psp_count += 1
                    truth.add(
                        MismatchType.DUPLICATE_CHARGE, Detail.NONE, dup, order_id, "", _PERSON
                    )
            elif plant == "missing_at_psp":
                truth.add(MismatchType.MISSING_AT_PSP, Detail.NONE, "", order_id, "", _PERSON)
            if refunded:
                psp_count += _refund(
                    i, second, cents // 2 or 1, currency, plant, refunds, psp, truth
                )
            if plant == "refund_missing_ours":
                ghost, rtxn = f"rf_ghost_{i:08d}", f"txn_rghost_{i:08d}"
                psp.write(
                    _psp_row(
                        rtxn,
                        second + 40,
                        "refund",
                        f"re_ghost_{i:08d}",
                        intent,
                        order_id,
                        ghost,
                        currency,
                        -next(reserved),
                        0,
                    )
                )
                psp_count += 1
                truth.add(
                    MismatchType.REFUND, Detail.REFUND_MISSING_OURS, rtxn, order_id, "", _PERSON
                )
        psp_count += _extras(k, rng, reserved, orders, psp, truth)
        order_count += k  # the status_by_amount orders
        # Payouts to the platform's bank: read and counted, compared in a later issue.
        for n in range(max(1, rows // 100_000)):
            psp.write(
                _psp_row(
                    f"txn_po_{n}", 86_100, "payout", f"po_bank_{n}", "", "", "", "USD", -100_000, 0
                )
            )
            psp_count += 1
    return BenchData(period, psp_path, files, truth, psp_count, order_count)


_AUTO, _PERSON, _NONE = (
    MismatchClass.AUTO_FIXED,
    MismatchClass.NEEDS_PERSON,
    MismatchClass.UNCLASSIFIABLE,
)


def _refund(
    i: int,
    second: int,
    cents: int,
    currency: str,
    plant: str | None,
    refunds: TextIO,
    psp: TextIO,
    truth: Planted,
) -> int:
    """Our refund of half of order i, and the PSP's (unless planted missing); PSP rows written."""
    refund_id, reference, order_id = f"rf_{i:08d}", f"re_{i:08d}", f"po_{i:08d}"
    status = "PENDING" if plant == "refund_pending" else "SUCCEEDED"
    refunds.write(
        f"{refund_id},{order_id},{reference},{status},{_dec(cents)},{currency},{_ts(second + 1)}\n"
    )
    if plant == "refund_missing_at_psp":
        truth.add(
            MismatchType.REFUND, Detail.REFUND_MISSING_AT_PSP, "", order_id, refund_id, _PERSON
        )
        return 0
    rtxn = f"txn_re_{i:08d}"
    gross = cents + 50 if plant == "refund_amount" else cents
    psp.write(
        _psp_row(
            rtxn,
            second + 3,
            "refund",
            reference,
            f"pi_{i:08d}",
            order_id,
            refund_id,
            currency,
            -gross,
            0,
        )
    )
    if plant == "refund_pending":
        truth.add(MismatchType.REFUND, Detail.REFUND_PENDING, rtxn, order_id, refund_id, _AUTO)
    elif plant == "refund_amount":
        truth.add(MismatchType.REFUND, Detail.REFUND_AMOUNT, rtxn, order_id, refund_id, _PERSON)
    return 1


def _extras(
    k: int,
    rng: random.Random,
    reserved: Iterator[int],
    orders: TextIO,
    psp: TextIO,
    truth: Planted,
) -> int:
    """Rows beside the ordinary orders: charges for orders we lack, a lost intent tied only by
    amount and date, and transactions that name nothing of ours."""
    written = 0
    for n in range(k):
        second = rng.randint(0, 86_000)
        txn, ghost = f"txn_ghost_{n}", f"po_ghost_{n}"
        psp.write(
            _psp_row(
                txn,
                second,
                "charge",
                f"ch_ghost_{n}",
                f"pi_ghost_{n}",
                ghost,
                "",
                "USD",
                next(reserved),
                0,
            )
        )
        truth.add(MismatchType.MISSING_OURS, Detail.NONE, txn, ghost, "", _PERSON)
        # An order stuck EXECUTING after a lost answer, whose intent id paymesh never stored,
        # charged by a PSP that dropped the metadata: only amount, currency and date tie them.
        cents, order_id, txn = next(reserved), f"po_lost_{n}", f"txn_lost_{n}"
        orders.write(f"{order_id},,EXECUTING,{_dec(cents)},USD,,{_ts(second)}\n")
        psp.write(
            _psp_row(
                txn,
                second + 5,
                "charge",
                f"ch_lost_{n}",
                f"pi_lost_{n}",
                "",
                "",
                "USD",
                cents,
                _card_fee(cents),
            )
        )
        truth.add(MismatchType.STATUS, Detail.ORDER_UNSETTLED, txn, order_id, "", _PERSON)
        txn = f"txn_unknown_{n}"
        psp.write(
            _psp_row(
                txn,
                second,
                "charge",
                f"ch_unknown_{n}",
                f"pi_unknown_{n}",
                "",
                "",
                "USD",
                next(reserved),
                0,
            )
        )
        truth.add(MismatchType.UNMATCHED_PSP, Detail.NONE, txn, "", "", _NONE)
        txn = f"txn_adjustment_{n}"
        psp.write(
            _psp_row(txn, second, "adjustment", f"adj_{n}", "", "", "", "USD", -next(reserved), 0)
        )
        truth.add(MismatchType.UNMATCHED_PSP, Detail.NONE, txn, "", "", _NONE)
        written += 4
    return written


def _reserved_amounts() -> Iterator[int]:
    cents = 500_000
    while True:
        cents += 1
        yield cents


def _card_fee(cents: int) -> int:
    return (cents * 29 + 500) // 1000 + 30


def _dec(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


_START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)


def _ts(second: int) -> str:
    h, rest = divmod(second, 3600)
    m, s = divmod(rest, 60)
    return f"{DAY.isoformat()} {h:02d}:{m:02d}:{s:02d}+00"


def _psp_row(
    txn: str,
    second: int,
    category: str,
    source: str,
    intent: str,
    order_id: str,
    refund_id: str,
    currency: str,
    gross: int,
    fee: int,
) -> str:
    available = (_START + timedelta(days=2)).date().isoformat()
    return (
        f"{txn},{_ts(second)},{available} 00:00:00+00,{category},{source},{intent},{order_id},"
        f"{refund_id},{currency.lower()},{_dec(gross)},{_dec(fee)},{_dec(gross - fee)}\n"
    )
