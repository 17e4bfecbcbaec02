"""An in-memory PSP for the ChargeRefunds port (payment_svc.domain.duplicate_charges): charges
by id, the charge each PaymentIntent settled on, and refunds of a charge made once per
idempotency key and never beyond what the charge took, as the PSP would."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal

from payment_svc.domain.duplicate_charges import ChargeAtPsp, ChargeRefund
from payment_svc.domain.psp import PspRejected
from payment_svc.domain.psp_refunds import RefundOutcome, RefundOutcomeStatus


@dataclass
class FakeChargeRefunds:
    charges: dict[str, ChargeAtPsp] = field(default_factory=dict)
    settled: dict[str, str] = field(default_factory=dict)  # PaymentIntent -> charge
    refunds: dict[str, list[ChargeRefund]] = field(default_factory=dict)  # by charge
    by_key: dict[str, ChargeRefund] = field(default_factory=dict)

    async def charge(self, charge_id: str) -> ChargeAtPsp | None:
        return self.charges.get(charge_id)

    async def settled_charge(self, psp_reference: str) -> str:
        return self.settled.get(psp_reference, "")

    async def refunds_of_charge(self, charge_id: str) -> list[ChargeRefund]:
        return list(self.refunds.get(charge_id, []))

    async def refund_charge(
        self, charge: ChargeAtPsp, amount: Decimal, idempotency_key: str
    ) -> ChargeRefund:
        if idempotency_key in self.by_key:
            return self.by_key[idempotency_key]
        stored = self.charges[charge.charge_id]
        if amount > stored.amount - stored.amount_refunded:
            raise PspRejected(f"charge {charge.charge_id} has already been refunded")
        made = sum(len(r) for r in self.refunds.values()) + 1
        refund = ChargeRefund(
            RefundOutcome(RefundOutcomeStatus.SUCCEEDED, f"re_{made}"), amount, charge.currency
        )
        self.charges[charge.charge_id] = dataclasses.replace(
            stored, amount_refunded=stored.amount_refunded + amount
        )
        self.refunds.setdefault(charge.charge_id, []).append(refund)
        self.by_key[idempotency_key] = refund
        return refund
