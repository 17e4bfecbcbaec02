"""The finance queue: list and show mismatches, and record a person's decision, carried out
through the normal flows once: a refund is the payment service's (of the order, or of the one
duplicate PSP charge), a write-off and a duplicate charge given back are booked by the ledger,
each idempotent on a key derived from the mismatch id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from recon_svc.domain.queue import (
    MismatchStatus,
    NotFound,
    Resolution,
    ResolutionAction,
    ResolutionRefused,
    StoredMismatch,
    WriteOffLimits,
    check_resolution,
    gives_back_a_charge,
    refund_amount,
    signed_difference,
)
from recon_svc.service_layer.ports import (
    FlowUnavailable,
    MismatchQuery,
    PaymentFlows,
    ReconStore,
    SuspenseBooks,
)

# The namespace of refund idempotency keys derived from mismatch ids: one mismatch, one refund,
# however many times (and by whomever) it is resolved with a refund.
REFUND_KEYS = uuid.UUID("0b5a1c8e-7d0e-4d0e-9a55-5e7c0f1d2a11")


@dataclass(frozen=True)
class Decision:
    mismatch_id: str
    action: ResolutionAction
    note: str
    resolved_by: str
    request_id: str


async def get_mismatch(store: ReconStore, mismatch_id: str) -> StoredMismatch:
    found = await store.get_mismatch(mismatch_id)
    if found is None:
        raise NotFound("mismatch_id", mismatch_id)
    return found


async def list_mismatches(store: ReconStore, query: MismatchQuery) -> list[StoredMismatch]:
    return await store.list_mismatches(query)


def refund_key(mismatch_id: str) -> str:
    return str(uuid.uuid5(REFUND_KEYS, mismatch_id))


def booking_key(mismatch_id: str) -> str:
    """The request id of the ledger bookings of a decision on the mismatch (the ledger books
    each once by its own key anyway; this one makes a retried call the same call)."""
    return str(uuid.uuid5(REFUND_KEYS, f"ledger:{mismatch_id}"))


async def resolve(
    store: ReconStore,
    flows: PaymentFlows,
    books: SuspenseBooks,
    clock: Callable[[], datetime],
    limits: WriteOffLimits,
    decision: Decision,
) -> StoredMismatch:
    """Record `decision` and carry it out; a repeated request_id answers the mismatch as it is
    (nothing done twice). One decision at a time per mismatch. Raises ResolutionRefused (the
    rule's reason), NotFound, DecisionInProgress, and FlowUnavailable when the payment service
    or the ledger did not answer (nothing recorded: the same decision may be asked again, and
    what was done on the way is not done twice, every effect being keyed by the mismatch)."""
    await get_mismatch(store, decision.mismatch_id)  # NotFound before holding anything
    async with store.deciding(decision.mismatch_id):
        # Read under the hold: a decision made meanwhile is seen, so two different decisions
        # never both take effect (DecisionInProgress for one that comes while another runs).
        mismatch = await get_mismatch(store, decision.mismatch_id)
        if await store.find_resolution(mismatch.mismatch_id, decision.request_id):
            return mismatch
        check_resolution(mismatch, decision.action, decision.note, limits)
        outcome = await _carry_out(flows, books, mismatch, decision.action)
        resolution = Resolution(
            decision.action, decision.resolved_by, clock(), decision.note.strip(), outcome
        )
        new_status = None if decision.action is ResolutionAction.NOTE else MismatchStatus.RESOLVED
        added = await store.add_resolution(
            mismatch.mismatch_id, decision.request_id, resolution, new_status
        )
        if not added and new_status is not None:
            # Closed between our read and our write by a path that does not hold the mismatch
            # (none today); what was done on the way was keyed by the mismatch, done once.
            raise ResolutionRefused(
                "MISMATCH_NOT_OPEN", f"mismatch {mismatch.mismatch_id} was resolved meanwhile"
            )
    return await get_mismatch(store, mismatch.mismatch_id)


async def _carry_out(
    flows: PaymentFlows,
    books: SuspenseBooks,
    mismatch: StoredMismatch,
    action: ResolutionAction,
) -> str:
    key = mismatch.mismatch_id
    if action is ResolutionAction.REFUND and gives_back_a_charge(mismatch):
        order_id = mismatch.evidence["payment_order_id"]
        given = await flows.refund_duplicate_charge(
            refund_key(key), order_id, mismatch.evidence["psp_source"]
        )
        if not given.succeeded:
            raise FlowUnavailable(
                f"the PSP is still refunding charge {given.psp_charge_id} ({given.psp_refund_id});"
                " resolve again later"
            )
        txns = await books.duplicate_charge_refunded(booking_key(key), key, order_id, given)
        return (
            f"duplicate charge {given.psp_charge_id} refunded by {given.psp_refund_id}:"
            f" {given.amount} {given.currency} (ledger {', '.join(txns)})"
        )
    if action is ResolutionAction.REFUND:
        amount, currency = refund_amount(mismatch)
        refund_id = await flows.refund(
            refund_key(key), mismatch.evidence["payment_order_id"], amount, currency
        )
        return f"refund {refund_id} of {amount} {currency}"
    if action is ResolutionAction.WRITE_OFF:
        signed, currency = signed_difference(mismatch)
        txn = await books.write_off(booking_key(key), key, signed, currency)
        return f"write-off of {abs(signed)} {currency} to recon_suspense (ledger {txn})"
    if action is ResolutionAction.ACCEPT:
        return "the PSP's figure accepted"
    return ""
