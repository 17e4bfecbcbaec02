"""Give back a duplicate charge of a SUCCESS order at the PSP (reconciliation's finance queue
asks, payment_svc.domain.duplicate_charges has the rules). A charge already given back answers
the refund that did it, so a second request, however late (past the PSP's idempotency window),
refunds nothing again."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.errors import failed_precondition, not_found
from payment_svc.domain.duplicate_charges import (
    ChargeAtPsp,
    ChargeRefund,
    ChargeRefunds,
    NotADuplicate,
    check_duplicate,
)
from payment_svc.domain.psp import PspRejected
from payment_svc.domain.psp_refunds import RefundOutcomeStatus
from payment_svc.service_layer.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class DuplicateChargeRefunded:
    charge_id: str
    refund: ChargeRefund


async def refund_duplicate_charge(
    request_id: str,
    payment_order_id: str,
    charge_id: str,
    *,
    uow: UnitOfWorkFactory,
    psp: ChargeRefunds,
) -> DuplicateChargeRefunded:
    """Refund the whole duplicate charge once (the PSP key is `request_id`). NOT_FOUND for an
    unknown order or charge; FAILED_PRECONDITION NOT_A_DUPLICATE_CHARGE for a charge that is
    not a second charge of the order, PSP_REJECTED for one the PSP refuses to refund."""
    async with uow() as tx:
        order = await tx.repo.get_order(payment_order_id)
    if order is None:
        raise not_found("payment_order_id", payment_order_id)
    charge = await psp.charge(charge_id)
    if charge is None:
        raise not_found("psp_charge_id", charge_id)
    try:
        settled = await psp.settled_charge(order.psp_reference) if order.psp_reference else ""
        try:
            check_duplicate(order, charge, settled)
        except NotADuplicate as err:
            raise failed_precondition(
                err.reason, str(err), {"payment_order_id": payment_order_id}
            ) from None
        return await _give_back(request_id, charge, psp)
    except PspRejected as err:  # e.g. refunded meanwhile outside paymesh: nothing to retry
        raise failed_precondition(
            "PSP_REJECTED", f"the PSP refused to give back charge {charge_id}: {err}"[:500]
        ) from None


async def _give_back(
    request_id: str, charge: ChargeAtPsp, psp: ChargeRefunds
) -> DuplicateChargeRefunded:
    charge_id = charge.charge_id
    if charge.amount_refunded >= charge.amount:
        # Given back already (by an earlier request, or past the PSP's idempotency window):
        # answer that refund, refund nothing again.
        given_back = [
            r
            for r in await psp.refunds_of_charge(charge_id)
            if r.outcome.status is not RefundOutcomeStatus.FAILED
        ]
        if given_back:
            return DuplicateChargeRefunded(charge_id, given_back[-1])
        raise failed_precondition(
            "NOT_A_DUPLICATE_CHARGE", f"charge {charge_id} was refunded outside paymesh"
        )
    refund = await psp.refund_charge(charge, charge.amount - charge.amount_refunded, request_id)
    return DuplicateChargeRefunded(charge_id, refund)
