"""The three classes of the source documents, and the rule that puts each mismatch in one.

1. fixed automatically: the fix is certain and goes through paymesh's normal flows; `rule`
   names the fix (an audit record will name the run and the rule).
2. needs a person: the facts are clear, the decision is not; `action` is the suggestion.
3. unclassifiable: nothing ties it to what paymesh knows; queued for investigation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from recon_svc.domain.books import never_booked
from recon_svc.domain.mismatches import Detail, Mismatch, MismatchType


class MismatchClass(enum.IntEnum):
    AUTO_FIXED = 1
    NEEDS_PERSON = 2
    UNCLASSIFIABLE = 3


class Action(enum.Enum):
    """What the finance queue will offer (issue 11: refund, accept, write off, note)."""

    NONE = ""
    REFUND = "refund"  # give the money back through a refund
    ACCEPT = "accept"  # take the PSP's figure into our books
    WRITE_OFF = "write_off"  # book the difference to suspense (below a threshold)
    INVESTIGATE = "investigate"  # ask the PSP, then decide


class FixRule(enum.Enum):
    """Class 1's fixes, each carried out by the flow that normally does the same thing."""

    NONE = ""
    SETTLE_ORDER_FROM_PSP = "settle_order_from_psp"  # the order's success event, as a webhook
    SETTLE_REFUND_FROM_PSP = "settle_refund_from_psp"  # the refund's success event
    # The PSP's fees and its payouts to the platform, known only from its report, booked by
    # every run through the ledger's BookPspBalanceTransactions (a run's own fix, recorded in
    # recon.fixes per run, rule and currency; not a mismatch of the queue: ADR 0024).
    BOOK_PSP_FEE = "book_psp_fee"
    BOOK_PSP_PAYOUT = "book_psp_payout"


@dataclass(frozen=True, slots=True)
class Classification:
    mismatch_class: MismatchClass
    rule: FixRule = FixRule.NONE
    action: Action = Action.NONE
    reason: str = ""


def classify(mismatch: Mismatch) -> Classification:
    """The class of a mismatch, with the fix rule (class 1) or the suggested action (2, 3)."""
    kind, detail = mismatch.type, mismatch.detail
    certain = mismatch.rule is not None and mismatch.rule.is_certain
    if kind is MismatchType.STATUS:
        if detail is Detail.ORDER_UNSETTLED and certain:
            return Classification(
                MismatchClass.AUTO_FIXED,
                rule=FixRule.SETTLE_ORDER_FROM_PSP,
                reason="the PSP charged; the order waits for an answer it lost",
            )
        if detail is Detail.ORDER_UNSETTLED:
            return _person(Action.INVESTIGATE, "tied by amount and date only: confirm, then settle")
        # FAILED is terminal and the buyer was told the payment failed (and may have paid
        # again), so the charge is not quietly turned into a success.
        return _person(Action.REFUND, "the PSP charged an order paymesh failed")
    if kind is MismatchType.REFUND:
        if detail is Detail.REFUND_PENDING and certain:
            return Classification(
                MismatchClass.AUTO_FIXED,
                rule=FixRule.SETTLE_REFUND_FROM_PSP,
                reason="the PSP refunded; the refund waits for an answer it lost",
            )
        return _person(*_REFUND_ACTIONS.get(detail, (Action.INVESTIGATE, "a refund differs")))
    if kind is MismatchType.LEDGER_WITHOUT_PSP:
        return Classification(
            MismatchClass.UNCLASSIFIABLE,
            action=Action.INVESTIGATE,
            reason="a ledger posting on a PSP account that no PSP transaction explains",
        )
    if kind is MismatchType.INTERNAL:
        return _internal(mismatch)
    if kind is MismatchType.FEE and detail is Detail.FEE_BOOKED:
        return _person(Action.ACCEPT, "the PSP's fee now differs from the one booked from it")
    if kind is MismatchType.AMOUNT and detail is Detail.PAYOUT_BOOKED:
        return _person(Action.INVESTIGATE, "the PSP's payout differs from the one booked")
    if kind is MismatchType.UNMATCHED_PSP:
        return Classification(
            MismatchClass.UNCLASSIFIABLE,
            action=Action.INVESTIGATE,
            reason="a PSP transaction that names and matches nothing paymesh knows",
        )
    return _person(*_ACTIONS[kind])


def _internal(mismatch: Mismatch) -> Classification:
    detail = mismatch.detail
    if detail is Detail.LEDGER_ZERO_SUM:
        # No rule of the ledger lets debits and credits differ: something wrote around it.
        return Classification(
            MismatchClass.UNCLASSIFIABLE,
            action=Action.INVESTIGATE,
            reason="the ledger's debits and credits differ: written around its rules",
        )
    if detail in (Detail.ORDER_LEDGER, Detail.ORDER_WALLET) and never_booked(mismatch):
        # paymesh has no flow that sends an order's success event again (the outbox sent it;
        # a consumer that gave up put it in the dead-letter queue), so a person replays it.
        return _person(
            Action.INVESTIGATE,
            "a SUCCESS order whose success event never booked it: replay the event from the"
            " dead-letter queue (paymesh dlq)",
        )
    return _person(*_INTERNAL_ACTIONS[detail])


_INTERNAL_ACTIONS: dict[Detail, tuple[Action, str]] = {
    Detail.WALLET_LEDGER: (
        Action.INVESTIGATE,
        "a seller's wallet bucket differs from its ledger account: find which is right",
    ),
    Detail.ORDER_LEDGER: (
        Action.INVESTIGATE,
        "a SUCCESS order without exactly one ledger transaction of its amount",
    ),
    Detail.ORDER_WALLET: (
        Action.INVESTIGATE,
        "a SUCCESS order without exactly one wallet credit of its net amount",
    ),
    Detail.CLEARING: (
        Action.INVESTIGATE,
        "the clearing account holds money past its settlement delay: ask the PSP for the payout",
    ),
}


def _person(action: Action, reason: str) -> Classification:
    return Classification(MismatchClass.NEEDS_PERSON, action=action, reason=reason)


_ACTIONS: dict[MismatchType, tuple[Action, str]] = {
    MismatchType.MISSING_OURS: (Action.REFUND, "the PSP charged for an order paymesh lacks"),
    MismatchType.MISSING_AT_PSP: (
        Action.INVESTIGATE,
        "a SUCCESS order without a PSP charge: ask the PSP; a late settlement shows up later",
    ),
    MismatchType.AMOUNT: (Action.INVESTIGATE, "the PSP's amount differs from the order's"),
    MismatchType.CURRENCY: (Action.INVESTIGATE, "the PSP charged in another currency"),
    MismatchType.FEE: (Action.ACCEPT, "the PSP's fee differs from the booked one"),
    MismatchType.DUPLICATE_CHARGE: (Action.REFUND, "a second charge for one order"),
    MismatchType.MISSING_IN_LEDGER: (
        Action.INVESTIGATE,
        "a PSP fee or payout the ledger has not booked (it refused the row): investigate",
    ),
}

_REFUND_ACTIONS: dict[Detail, tuple[Action, str]] = {
    Detail.REFUND_PENDING: (
        Action.INVESTIGATE,
        "tied by amount and date only: confirm, then settle",
    ),
    Detail.REFUND_FAILED: (Action.ACCEPT, "the PSP refunded a refund paymesh failed"),
    Detail.REFUND_AMOUNT: (Action.INVESTIGATE, "the PSP refunded another amount"),
    Detail.REFUND_CURRENCY: (Action.INVESTIGATE, "the PSP refunded in another currency"),
    Detail.REFUND_DUPLICATE: (Action.INVESTIGATE, "the PSP refunded twice"),
    Detail.REFUND_MISSING_OURS: (Action.INVESTIGATE, "the PSP refunded what paymesh never asked"),
    Detail.REFUND_MISSING_AT_PSP: (
        Action.INVESTIGATE,
        "a SUCCEEDED refund without a PSP refund: ask the PSP",
    ),
}
