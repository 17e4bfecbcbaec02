"""What callers ask of the payment service, in domain terms (mapped from the protos by the
entrypoints)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payment_svc.domain.checkout import Flow
from payment_svc.domain.risk import RiskOrder, RiskSubject


@dataclass(frozen=True)
class NewOrder:
    payment_order_id: str
    seller_account: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class CreatePayment:
    """A checkout to accept. `request_hash` fingerprints the request minus its `request_id`;
    `scope` is whose key space `request_id` lives in (the caller's API key id, "" for a direct
    gRPC caller)."""

    request_id: str
    request_hash: str
    checkout_id: str
    buyer_id: str
    payment_method: str
    orders: tuple[NewOrder, ...]
    buyer_email: str = ""
    buyer_name: str = ""
    scope: str = ""
    flow: Flow = Flow.DIRECT
    redirect_url: str = ""

    def risk_subject(self) -> RiskSubject:
        return RiskSubject(
            checkout_id=self.checkout_id,
            buyer_id=self.buyer_id,
            orders=tuple(RiskOrder(o.payment_order_id, o.amount, o.currency) for o in self.orders),
            payment_method=self.payment_method,
        )
