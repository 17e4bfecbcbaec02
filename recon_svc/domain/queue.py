"""The finance queue's rules: a mismatch as stored, its statuses, and what a person may decide.

A resolution is appended, never changed (guarded by the `recon.resolutions` trigger of
migration 0001 and by `mesh.db_roles.APPEND_ONLY`).
"""

from __future__ import annotations

import enum
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


def difference(mismatch: StoredMismatch) -> Decimal:
    """The money a write-off would book: the PSP's gross minus ours where both sides are
    known (an amount or fee mismatch), else the one side's amount."""
    facts = mismatch.evidence

    def amount(name: str) -> Decimal | None:
        raw = facts.get(name, "")
        try:
            return Decimal(raw) if raw else None
        except InvalidOperation:
            return None

    if mismatch.type == "fee":
        psp, ours = amount("psp_fee"), amount("order_psp_fee")
    else:
        psp = amount("psp_gross")
        ours = amount("order_amount")
        if ours is None and amount("refund_amount") is not None:
            ours = -(amount("refund_amount") or Decimal(0))
    if psp is not None and ours is not None:
        return abs(psp - ours)
    return abs(psp if psp is not None else ours if ours is not None else Decimal(0))


def check_resolution(
    mismatch: StoredMismatch, action: ResolutionAction, note: str, write_off_limit: Decimal
) -> None:
    """Raise ResolutionRefused unless `action` may be taken on `mismatch` now: only an open
    mismatch is decided (a note may be added to any); a write-off only up to the limit; a
    refund only where the PSP holds a charge of ours to give back."""
    if action is ResolutionAction.NOTE:
        if not note.strip():
            raise ResolutionRefused("NOTE_REQUIRED", "a note resolution needs a note")
        return
    if mismatch.status is not MismatchStatus.OPEN:
        raise ResolutionRefused(
            "MISMATCH_NOT_OPEN", f"mismatch {mismatch.mismatch_id} is {mismatch.status.value}"
        )
    if action is ResolutionAction.WRITE_OFF:
        owed = difference(mismatch)
        if owed > write_off_limit:
            raise ResolutionRefused(
                "WRITE_OFF_ABOVE_THRESHOLD",
                f"a write-off of {owed} is above the limit of {write_off_limit}",
            )
    if action is ResolutionAction.REFUND and not refundable(mismatch):
        raise ResolutionRefused(
            "NOTHING_TO_REFUND", "no charge of a paymesh order at the PSP to refund"
        )


def refundable(mismatch: StoredMismatch) -> bool:
    """A refund goes through paymesh's refund of an order, so it needs the order's id and a
    PSP charge (a charge on a FAILED order, a duplicate, an amount taken too much)."""
    facts = mismatch.evidence
    order_id = facts.get("payment_order_id") or ""
    return bool(order_id and facts.get("psp_gross") and facts.get("psp_category") != "refund")


def refund_amount(mismatch: StoredMismatch) -> tuple[Decimal, str]:
    """What a refund resolution gives back: the whole charge of a duplicate or of a failed
    order, the excess of an amount mismatch."""
    facts = mismatch.evidence
    psp = Decimal(facts["psp_gross"])
    if mismatch.type == "amount" and facts.get("order_amount"):
        return psp - Decimal(facts["order_amount"]), facts["psp_currency"]
    return psp, facts["psp_currency"]


class NotFound(LookupError):
    """A run or mismatch id the service does not have."""

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} not found")
        self.what, self.ident = what, ident


class UnknownSource(ValueError):
    """A run asked of a PSP report source the service does not have."""
