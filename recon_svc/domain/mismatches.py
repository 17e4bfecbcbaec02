"""The types of mismatch, and how a candidate from the matcher becomes typed mismatches."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from recon_svc.domain.records import (
    Candidate,
    CandidateKind,
    MatchRule,
    OrderRecord,
    PspTransaction,
    RefundRecord,
)

UNSETTLED_ORDER = frozenset({"NOT_STARTED", "EXECUTING", "PENDING"})


class MismatchType(enum.Enum):
    MISSING_OURS = "missing_ours"  # the PSP charged for an order paymesh does not have
    MISSING_AT_PSP = "missing_at_psp"  # a SUCCESS order the PSP has no charge for
    AMOUNT = "amount"  # tied, but the amounts differ
    CURRENCY = "currency"  # tied, but the currencies differ
    FEE = "fee"  # the PSP's fee differs from the one paymesh booked
    DUPLICATE_CHARGE = "duplicate_charge"  # a second charge for one order
    STATUS = "status"  # the PSP charged; the order is FAILED or not settled
    REFUND = "refund"  # a refund differs (detail says how)
    UNMATCHED_PSP = "unmatched_psp"  # a PSP transaction that names and matches nothing of ours
    # Completeness against the ledger (recon_svc.domain.books), both ways:
    MISSING_IN_LEDGER = "missing_in_ledger"  # a PSP row (fee, payout) the ledger never booked
    LEDGER_WITHOUT_PSP = "ledger_without_psp"  # a posting on a PSP account, no PSP transaction
    INTERNAL = "internal"  # paymesh's own books disagree (wallet, orders, ledger, clearing)


# The types the run's comparisons with paymesh's own books find (recon_svc.domain.books); the
# others are the matcher's, between the PSP's report and the orders and refunds.
BOOKS_TYPES = frozenset(
    {MismatchType.MISSING_IN_LEDGER, MismatchType.LEDGER_WITHOUT_PSP, MismatchType.INTERNAL}
)
MATCHER_TYPES = frozenset(MismatchType) - BOOKS_TYPES


class Detail(enum.Enum):
    """The finer kind of a STATUS or REFUND mismatch (NONE for the other types)."""

    NONE = ""
    ORDER_UNSETTLED = "order_unsettled"  # NOT_STARTED, EXECUTING or PENDING
    ORDER_FAILED = "order_failed"
    REFUND_PENDING = "refund_pending"  # the PSP refunded; ours is still PENDING
    REFUND_FAILED = "refund_failed"  # the PSP refunded; ours is FAILED
    REFUND_AMOUNT = "refund_amount"
    REFUND_CURRENCY = "refund_currency"
    REFUND_DUPLICATE = "refund_duplicate"
    REFUND_MISSING_OURS = "refund_missing_ours"  # the PSP refunded something we never asked
    REFUND_MISSING_AT_PSP = "refund_missing_at_psp"  # our SUCCEEDED refund, none at the PSP
    # What a ledger-completeness mismatch is about (the ledger transaction's kind):
    LEDGER_CHARGE = "charge"  # an order's pay-in posting
    LEDGER_REFUND = "refund"  # a refund's reversal posting
    LEDGER_FEE = "fee"  # a PSP fee booked from the report
    LEDGER_PAYOUT = "payout"  # the PSP's payout to the platform booked from the report
    FEE_BOOKED = "fee_booked"  # FEE: the booked fee differs from the PSP's row now
    PAYOUT_BOOKED = "payout_booked"  # AMOUNT: the booked payout differs from the PSP's row
    # What an INTERNAL mismatch compares:
    WALLET_LEDGER = "wallet_ledger"  # a seller's wallet bucket vs its ledger account
    ORDER_LEDGER = "order_ledger"  # a SUCCESS order vs its one ledger transaction
    ORDER_WALLET = "order_wallet"  # a SUCCESS order vs its one wallet credit
    LEDGER_ZERO_SUM = "ledger_zero_sum"  # debits != credits (per currency or transaction)
    CLEARING = "clearing"  # a clearing account not netted to zero after its delay


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One typed difference between the PSP's books and ours, with the rows that show it."""

    type: MismatchType
    detail: Detail = Detail.NONE
    rule: MatchRule | None = None
    psp: PspTransaction | None = None
    order: OrderRecord | None = None
    refund: RefundRecord | None = None
    # What a mismatch without a PSP row, order or refund is about ("seller_1/USD/pending",
    # "psp_receivable/USD", a ledger transaction id), and its facts (recon_svc.domain.books).
    subject: str = ""
    facts: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        """What identifies it across runs: its type, detail, the ids of its rows and its
        subject (only when it has one, so the keys of earlier mismatches stay as they were)."""
        order_id = self.order.payment_order_id if self.order else ""
        if not order_id and self.refund:
            order_id = self.refund.payment_order_id
        if not order_id and self.psp:
            order_id = self.psp.payment_order_id
        return (
            self.type.value,
            self.detail.value,
            self.psp.id if self.psp else "",
            order_id,
            self.refund.refund_id if self.refund else "",
        ) + ((self.subject,) if self.subject else ())

    def evidence(self) -> dict[str, str]:
        """The facts a person needs, as strings (decimal strings for money)."""
        facts: dict[str, str] = {"type": self.type.value}
        if self.detail is not Detail.NONE:
            facts["detail"] = self.detail.value
        if self.rule is not None:
            facts["matched_by"] = self.rule.value
        if self.psp:
            facts.update(
                psp_transaction_id=self.psp.id,
                psp_category=self.psp.category,
                psp_source=self.psp.source,
                psp_payment_intent=self.psp.payment_intent,
                psp_gross=str(self.psp.gross),
                psp_fee=str(self.psp.fee),
                psp_currency=self.psp.currency,
                psp_created=self.psp.created.isoformat(),
            )
        if self.order:
            facts.update(
                payment_order_id=self.order.payment_order_id,
                order_status=self.order.status,
                order_amount=str(self.order.amount),
                order_currency=self.order.currency,
                order_psp_reference=self.order.psp_reference,
            )
            if self.order.psp_fee is not None:
                facts["order_psp_fee"] = str(self.order.psp_fee)
        if self.refund:
            facts.update(
                refund_id=self.refund.refund_id,
                refund_status=self.refund.status,
                refund_amount=str(self.refund.amount),
                refund_currency=self.refund.currency,
                refund_psp_reference=self.refund.psp_reference,
            )
        if self.subject:
            facts["subject"] = self.subject
        facts.update(self.facts)
        return facts


def find_mismatches(candidate: Candidate) -> list[Mismatch]:
    """Every mismatch a candidate shows; none when the rows agree. At most one per type."""
    kind, rule, psp, order, refund = (
        candidate.kind,
        candidate.rule,
        candidate.psp,
        candidate.order,
        candidate.refund,
    )
    if kind is CandidateKind.CHARGE_PAIR:
        assert psp is not None and order is not None
        return _charge_pair(rule, psp, order)
    if kind is CandidateKind.DUPLICATE_CHARGE:
        return [Mismatch(MismatchType.DUPLICATE_CHARGE, rule=rule, psp=psp, order=order)]
    if kind is CandidateKind.CHARGE_ALONE:
        assert psp is not None
        # paymesh puts payment_order_id in every intent's metadata: a charge carrying one is
        # ours, and its order is missing; one without it is nothing paymesh knows.
        if psp.payment_order_id:
            return [Mismatch(MismatchType.MISSING_OURS, psp=psp)]
        return [Mismatch(MismatchType.UNMATCHED_PSP, psp=psp)]
    if kind is CandidateKind.ORDER_ALONE:
        assert order is not None
        if order.status == "SUCCESS":
            return [Mismatch(MismatchType.MISSING_AT_PSP, order=order)]
        return []  # a failed or unsettled order without a charge is as it should be
    if kind is CandidateKind.REFUND_PAIR:
        assert psp is not None and refund is not None
        return _refund_pair(rule, psp, refund)
    if kind is CandidateKind.DUPLICATE_REFUND:
        return [_refund(Detail.REFUND_DUPLICATE, rule, psp, refund)]
    if kind is CandidateKind.PSP_REFUND_ALONE:
        assert psp is not None
        if psp.refund_id or psp.payment_order_id:
            return [_refund(Detail.REFUND_MISSING_OURS, None, psp, None)]
        return [Mismatch(MismatchType.UNMATCHED_PSP, psp=psp)]
    if kind is CandidateKind.OUR_REFUND_ALONE:
        assert refund is not None
        if refund.status == "SUCCEEDED":
            return [_refund(Detail.REFUND_MISSING_AT_PSP, None, None, refund)]
        return []
    return [Mismatch(MismatchType.UNMATCHED_PSP, psp=psp)]  # OTHER_PSP


def _charge_pair(rule: MatchRule | None, psp: PspTransaction, order: OrderRecord) -> list[Mismatch]:
    found: list[Mismatch] = []
    if order.status == "FAILED":
        found.append(Mismatch(MismatchType.STATUS, Detail.ORDER_FAILED, rule, psp, order))
    elif order.status in UNSETTLED_ORDER:
        found.append(Mismatch(MismatchType.STATUS, Detail.ORDER_UNSETTLED, rule, psp, order))
    if psp.currency != order.currency:
        # Amounts in two currencies cannot be compared: the currency is the mismatch.
        found.append(Mismatch(MismatchType.CURRENCY, rule=rule, psp=psp, order=order))
        return found
    if psp.gross != order.amount:
        found.append(Mismatch(MismatchType.AMOUNT, rule=rule, psp=psp, order=order))
    if order.psp_fee is not None and psp.fee != order.psp_fee:
        found.append(Mismatch(MismatchType.FEE, rule=rule, psp=psp, order=order))
    return found


def _refund_pair(
    rule: MatchRule | None, psp: PspTransaction, refund: RefundRecord
) -> list[Mismatch]:
    found: list[Mismatch] = []
    if refund.status == "PENDING":
        found.append(_refund(Detail.REFUND_PENDING, rule, psp, refund))
    elif refund.status == "FAILED":
        found.append(_refund(Detail.REFUND_FAILED, rule, psp, refund))
    if psp.currency != refund.currency:
        found.append(_refund(Detail.REFUND_CURRENCY, rule, psp, refund))
    elif -psp.gross != refund.amount:  # the PSP's refund is a negative gross
        found.append(_refund(Detail.REFUND_AMOUNT, rule, psp, refund))
    return found


def _refund(
    detail: Detail,
    rule: MatchRule | None,
    psp: PspTransaction | None,
    refund: RefundRecord | None,
) -> Mismatch:
    return Mismatch(MismatchType.REFUND, detail, rule, psp, None, refund)
