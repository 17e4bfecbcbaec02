"""The ChargeRefunds port (payment_svc.domain.duplicate_charges) over the Stripe API: read one
charge, the charge its PaymentIntent settled on, and refund that one charge by its id (not the
PaymentIntent's, which would refund the order's own charge). It rides on the process's
StripePaymentProvider, so its client, timeout, metrics and error mapping are the same."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mesh.money import quantize
from payment_svc.adapters.stripe_psp import (
    StripePaymentProvider,
    _minor_units,
    amount_of_minor_units,
    outcome_of_refund,
)
from payment_svc.domain.duplicate_charges import ChargeAtPsp, ChargeRefund
from payment_svc.domain.psp import PspRejected


def _money(minor: Any, currency: str) -> Decimal:
    return quantize(amount_of_minor_units(int(minor or 0), currency), currency)


def _refund(refund: dict[str, Any]) -> ChargeRefund:
    currency = str(refund.get("currency") or "").upper()
    return ChargeRefund(outcome_of_refund(refund), _money(refund.get("amount"), currency), currency)


class StripeChargeRefunds:
    def __init__(self, provider: StripePaymentProvider) -> None:
        self._psp = provider

    async def charge(self, charge_id: str) -> ChargeAtPsp | None:
        client = self._psp._client
        try:
            charge = (
                await self._psp._call("retrieve", client.v1.charges.retrieve_async(charge_id))
            ).to_dict()
        except PspRejected:
            return None  # resource_missing (or a malformed id): the PSP has no such charge
        currency = str(charge.get("currency") or "").upper()
        return ChargeAtPsp(
            charge_id=str(charge["id"]),
            payment_intent=str(charge.get("payment_intent") or ""),
            payment_order_id=str((charge.get("metadata") or {}).get("payment_order_id") or ""),
            amount=_money(charge.get("amount_captured") or charge.get("amount"), currency),
            amount_refunded=_money(charge.get("amount_refunded"), currency),
            currency=currency,
            paid=bool(charge.get("paid")),
        )

    async def settled_charge(self, psp_reference: str) -> str:
        client = self._psp._client
        intent = (
            await self._psp._call(
                "retrieve", client.v1.payment_intents.retrieve_async(psp_reference)
            )
        ).to_dict()
        latest = intent.get("latest_charge") or ""
        return str(latest["id"] if isinstance(latest, dict) else latest)

    async def refunds_of_charge(self, charge_id: str) -> list[ChargeRefund]:
        refunds = await self._psp._every(
            self._psp._client.v1.refunds.list_async,
            {"charge": charge_id},
        )
        return [_refund(r) for r in sorted(refunds, key=lambda r: r.get("created") or 0)]

    async def refund_charge(
        self, charge: ChargeAtPsp, amount: Decimal, idempotency_key: str
    ) -> ChargeRefund:
        client = self._psp._client
        refund = await self._psp._call(
            "refund",
            client.v1.refunds.create_async(
                {
                    "charge": charge.charge_id,
                    "amount": _minor_units(amount, charge.currency, "refund"),
                    "reason": "duplicate",
                    "metadata": {
                        # No `refund_id`: this is no refund of an order (paymesh_cli's refund
                        # invariants tell the two apart by it).
                        "duplicate_charge": charge.charge_id,
                        "payment_order_id": charge.payment_order_id,
                    },
                },
                {"idempotency_key": f"duplicate-{idempotency_key}"},
            ),
        )
        return _refund(refund.to_dict())
