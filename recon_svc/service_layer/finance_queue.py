"""The finance queue: list and show mismatches, and record a person's decision, carried out
through the normal flows once (a refund is the payment service's, idempotent on a key derived
from the mismatch id)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from recon_svc.domain.queue import (
    MismatchStatus,
    NotFound,
    Resolution,
    ResolutionAction,
    ResolutionRefused,
    StoredMismatch,
    check_resolution,
    difference,
    refund_amount,
)
from recon_svc.service_layer.ports import MismatchQuery, PaymentFlows, ReconStore

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


async def resolve(
    store: ReconStore,
    flows: PaymentFlows,
    clock: Callable[[], datetime],
    write_off_limit: Decimal,
    decision: Decision,
) -> StoredMismatch:
    """Record `decision` and carry it out; a repeated request_id answers the mismatch as it is
    (nothing done twice). Raises ResolutionRefused (the rule's reason) and NotFound."""
    mismatch = await get_mismatch(store, decision.mismatch_id)
    if await store.find_resolution(mismatch.mismatch_id, decision.request_id):
        return mismatch
    check_resolution(mismatch, decision.action, decision.note, write_off_limit)
    outcome = await _carry_out(flows, mismatch, decision.action)
    resolution = Resolution(
        decision.action, decision.resolved_by, clock(), decision.note.strip(), outcome
    )
    new_status = None if decision.action is ResolutionAction.NOTE else MismatchStatus.RESOLVED
    added = await store.add_resolution(
        mismatch.mismatch_id, decision.request_id, resolution, new_status
    )
    if not added and new_status is not None:
        # Another decision closed it between our read and our write; a refund made on the way
        # was the same, single refund (its key is the mismatch's).
        raise ResolutionRefused(
            "MISMATCH_NOT_OPEN", f"mismatch {mismatch.mismatch_id} was resolved meanwhile"
        )
    return await get_mismatch(store, mismatch.mismatch_id)


async def _carry_out(
    flows: PaymentFlows, mismatch: StoredMismatch, action: ResolutionAction
) -> str:
    if action is ResolutionAction.REFUND:
        amount, currency = refund_amount(mismatch)
        refund_id = await flows.refund(
            refund_key(mismatch.mismatch_id),
            mismatch.evidence["payment_order_id"],
            amount,
            currency,
        )
        return f"refund {refund_id} of {amount} {currency}"
    if action is ResolutionAction.WRITE_OFF:
        currency = mismatch.evidence.get("psp_currency") or mismatch.evidence.get(
            "order_currency", ""
        )
        return f"write-off of {difference(mismatch)} {currency} to suspense"
    if action is ResolutionAction.ACCEPT:
        return "the PSP's figure accepted"
    return ""
