"""The finance queue's rules: a mismatch as stored, its statuses, and what a person may decide.

A resolution is appended, never changed (guarded by the `recon.resolutions` trigger of
migration 0001 and by `mesh.db_roles.APPEND_ONLY`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from recon_svc.domain.classes import MismatchClass


class MismatchStatus(enum.Enum):
    OPEN = "OPEN"  # waiting for a person, or for its automatic fix
    FIXED = "FIXED"  # class 1, fixed through the normal flow
    RESOLVED = "RESOLVED"  # a person decided


class ResolutionAction(enum.Enum):
    REFUND = "refund"
    ACCEPT = "accept"
    WRITE_OFF = "write_off"
    NOTE = "note"


@dataclass(frozen=True)
class Resolution:
    action: ResolutionAction
    resolved_by: str
    resolved_at: datetime
    note: str
    outcome: str = ""


@dataclass
class StoredMismatch:
    """A mismatch in the queue. `key` (type|detail|psp id|order id|refund id) identifies it
    across runs, so a second run of a period finds it again instead of queuing it twice."""

    mismatch_id: str
    key: str
    type: str
    detail: str
    mismatch_class: MismatchClass
    status: MismatchStatus
    period: date
    first_run_id: str
    last_run_id: str
    evidence: dict[str, str]
    suggested_action: str
    reason: str
    fix_rule: str
    created_at: datetime
    resolutions: list[Resolution] = field(default_factory=list)


class ResolutionRefused(ValueError):
    """A decision the rules do not allow; `reason` is the API's error reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def key_text(key: tuple[str, ...]) -> str:
    return "|".join(key)


@dataclass(frozen=True)
class WriteOffLimits:
    """The largest difference a person may write off, per currency (major units); `default`
    for a currency not listed (RECON_WRITE_OFF_LIMIT, RECON_WRITE_OFF_LIMITS)."""

    default: Decimal
    per_currency: Mapping[str, Decimal] = field(default_factory=dict)

    def limit(self, currency: str) -> Decimal:
        return self.per_currency.get(currency.upper(), self.default)


def _amount(facts: dict[str, str], name: str) -> Decimal | None:
    raw = facts.get(name, "")
    try:
        return Decimal(raw) if raw else None
    except InvalidOperation:
        return None


def signed_difference(mismatch: StoredMismatch) -> tuple[Decimal, str]:
    """The difference between the PSP's books and ours, positive when the PSP holds more than
    our ledger says, and its currency: what a write-off books against `psp_receivable`
    (ledger_svc.domain.recon_books). Our side is what the ledger holds for the rows: a SUCCESS
    order's amount, a SUCCEEDED refund's amount taken back; a fee mismatch compares fees (a
    larger fee leaves the PSP holding less). Raises ResolutionRefused WRITE_OFF_NOT_POSSIBLE
    when there is no one difference (two currencies, no amounts)."""
    facts = mismatch.evidence
    psp_currency = facts.get("psp_currency", "")
    if mismatch.type == "currency":
        raise ResolutionRefused(
            "WRITE_OFF_NOT_POSSIBLE", "a difference in two currencies cannot be written off"
        )
    if mismatch.type == "fee":
        psp_fee, our_fee = _amount(facts, "psp_fee"), _amount(facts, "order_psp_fee")
        if psp_fee is None or our_fee is None:
            raise ResolutionRefused("WRITE_OFF_NOT_POSSIBLE", "no booked fee to compare with")
        return our_fee - psp_fee, psp_currency
    theirs = _amount(facts, "psp_gross") or Decimal(0)
    ours = Decimal(0)
    if mismatch.type == "duplicate_charge" or facts.get("detail") == "refund_duplicate":
        pass  # the first charge (refund) matched the order (refund): this one is extra
    elif facts.get("order_status") == "SUCCESS":
        ours = _amount(facts, "order_amount") or Decimal(0)
    elif facts.get("refund_status") == "SUCCEEDED":
        ours = -(_amount(facts, "refund_amount") or Decimal(0))
    currency = psp_currency or facts.get("order_currency") or facts.get("refund_currency", "")
    if not currency:
        raise ResolutionRefused("WRITE_OFF_NOT_POSSIBLE", "the mismatch names no currency")
    return theirs - ours, currency


def check_resolution(
    mismatch: StoredMismatch, action: ResolutionAction, note: str, limits: WriteOffLimits
) -> None:
    """Raise ResolutionRefused unless `action` may be taken on `mismatch` now: only an open
    mismatch is decided (a note may be added to any); a write-off only of a difference there
    is, up to its currency's limit; a refund only where the PSP holds a charge of ours to give
    back."""
    if action is ResolutionAction.NOTE:
        if not note.strip():
            raise ResolutionRefused("NOTE_REQUIRED", "a note resolution needs a note")
        return
    if mismatch.status is not MismatchStatus.OPEN:
        raise ResolutionRefused(
            "MISMATCH_NOT_OPEN", f"mismatch {mismatch.mismatch_id} is {mismatch.status.value}"
        )
    if action is ResolutionAction.WRITE_OFF:
        signed, currency = signed_difference(mismatch)
        if signed == 0:
            raise ResolutionRefused("WRITE_OFF_NOT_POSSIBLE", "there is no difference to write off")
        limit = limits.limit(currency)
        if abs(signed) > limit:
            raise ResolutionRefused(
                "WRITE_OFF_ABOVE_THRESHOLD",
                f"a write-off of {abs(signed)} {currency} is above the limit of {limit} {currency}",
            )
    if action is ResolutionAction.REFUND and not refundable(mismatch):
        raise ResolutionRefused(
            "NOTHING_TO_REFUND", "no charge of a paymesh order at the PSP to refund"
        )


def refundable(mismatch: StoredMismatch) -> bool:
    """A refund needs the order's id and a PSP charge (a charge on a FAILED order, a duplicate,
    an amount taken too much); a duplicate also the PSP's id of the second charge."""
    facts = mismatch.evidence
    order_id = facts.get("payment_order_id") or ""
    if not (order_id and facts.get("psp_gross") and facts.get("psp_category") != "refund"):
        return False
    return not gives_back_a_charge(mismatch) or bool(facts.get("psp_source"))


def gives_back_a_charge(mismatch: StoredMismatch) -> bool:
    """A duplicate charge is refunded as that one PSP charge, never through the order: the
    order keeps its good charge and the seller was never credited for the second. Its charge
    is the PSP transaction's source (`psp_source`)."""
    return mismatch.type == "duplicate_charge"


def refund_amount(mismatch: StoredMismatch) -> tuple[Decimal, str]:
    """What an order refund resolution gives back: the whole charge of a failed order, the
    excess of an amount mismatch."""
    facts = mismatch.evidence
    psp = Decimal(facts["psp_gross"])
    if mismatch.type == "amount" and facts.get("order_amount"):
        return psp - Decimal(facts["order_amount"]), facts["psp_currency"]
    return psp, facts["psp_currency"]


class DecisionInProgress(Exception):
    """Another decision on the mismatch is being carried out now: one at a time, so that two
    different decisions can never both take effect (retry: it will be decided by then)."""


class NotFound(LookupError):
    """A run or mismatch id the service does not have."""

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} not found")
        self.what, self.ident = what, ident


class UnknownSource(ValueError):
    """A run asked of a PSP report source the service does not have."""
