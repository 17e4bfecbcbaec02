"""The payment service keeps every service's alerts (mesh.alerts, mesh.alert_store): a
JetStream consumer of `ops.alert` that applies each observation to the `alerts` table, and the
checks of its own that raise alerts (an open PSP breaker, orders and refunds the sweeper could
not settle in its last round)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh import alert_store
from mesh.alerts import ALERT_SUBJECT, OPS_STREAM, Alert, Watch
from mesh.consuming import open_envelope
from mesh.jetstream import ConsumerSpec
from mesh.retry import RetryPolicy
from payment_svc.domain.breaker import BreakerState, CircuitBreaker
from paymesh.events.v1 import events_pb2

ALERT_KEEPER = "payment-alert-keeper"
PSP_BREAKER_OPEN = "psp_breaker_open"
ORDER_UNSETTLED = "order_unsettled"
REFUND_UNSETTLED = "refund_unsettled"
ORDER_UNANNOUNCED = "order_unannounced"
_EXAMPLES = 5


def alert_keeper_spec(retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream=OPS_STREAM, durable=ALERT_KEEPER, subject=ALERT_SUBJECT, concurrency=4, retry=retry
    )


@dataclass
class AlertKeeperHandler:
    engine: AsyncEngine

    async def __call__(self, env: events_pb2.Envelope) -> None:
        observed = open_envelope(env, ALERT_SUBJECT, events_pb2.AlertObserved)
        await alert_store.observe(
            self.engine,
            kind=observed.kind,
            subject=observed.subject,
            service=observed.service,
            detail=observed.detail,
            active=observed.active,
            at=env.occurred_at.ToDatetime(tzinfo=UTC),
        )


def breaker_watch(breaker: CircuitBreaker) -> Watch:
    async def check() -> list[Alert]:
        state = breaker.state
        if state is BreakerState.CLOSED:
            return []
        return [
            Alert(
                PSP_BREAKER_OPEN,
                "psp",
                f"the PSP circuit breaker is {state.value} "
                f"({breaker.open_for_s():.0f} s until a probe): PSP calls are refused",
            )
        ]

    return Watch(frozenset({PSP_BREAKER_OPEN}), check)


@dataclass
class Unsettled:
    """What the sweepers could not settle in their last round (orders, refunds)."""

    orders: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    unannounced: list[str] = field(default_factory=list)  # SUCCESS, flags not back, event gone

    def watch(self) -> Watch:
        async def check() -> list[Alert]:
            found = []
            for kind, subject, what, ids in (
                (ORDER_UNSETTLED, "payment_orders", "stuck payment orders", self.orders),
                (REFUND_UNSETTLED, "refunds", "stuck refunds", self.refunds),
                (
                    ORDER_UNANNOUNCED,
                    "payment_orders",
                    "SUCCESS orders whose wallet or ledger flag is missing and whose event is "
                    "no longer kept to announce again",
                    self.unannounced,
                ),
            ):
                if ids:
                    more = ", ..." if len(ids) > _EXAMPLES else ""
                    examples = ", ".join(ids[:_EXAMPLES]) + more
                    found.append(Alert(kind, subject, f"{len(ids)} {what}: {examples}"))
            return found

        return Watch(frozenset({ORDER_UNSETTLED, REFUND_UNSETTLED, ORDER_UNANNOUNCED}), check)
