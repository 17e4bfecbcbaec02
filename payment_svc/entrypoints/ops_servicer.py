"""The OpsService gRPC servicer (served by the payment service): alerts of every service (kept
in this schema, mesh.alert_store), the dead letters of every consumer (mesh.dead_letters, the
same tools as `paymesh dlq`), the PSP circuit breaker, and the operator console's reads: a
payment looked up by any of its ids and the payment figures per minute (adapters.sql_ops_reads).
Scope `ops`; replays, discards and
acknowledgements are audited by the gateway (the contract marks them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh import alert_store, dead_letters
from mesh.dead_letters import DeadLetter, NoSuchDeadLetter
from mesh.errors import Code, ServiceError
from mesh.events import decode_envelope
from payment_svc.adapters import sql_ops_reads
from payment_svc.domain.breaker import CircuitBreaker
from payment_svc.entrypoints.mapping import checkout_to_proto
from payment_svc.entrypoints.refund_mapping import refund_to_proto
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.queries import get_checkout
from paymesh.ops.v1 import ops_pb2, ops_pb2_grpc

SERVICE_NAME = "paymesh.ops.v1.OpsService"
DEFAULT_LIMIT = 100
DEFAULT_STATS_MINUTES = 60

_STATE = {
    alert_store.OPEN: ops_pb2.ALERT_STATE_OPEN,
    alert_store.ACKNOWLEDGED: ops_pb2.ALERT_STATE_ACKNOWLEDGED,
    alert_store.RESOLVED: ops_pb2.ALERT_STATE_RESOLVED,
}


def _ts(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def alert_to_proto(alert: alert_store.StoredAlert) -> ops_pb2.Alert:
    return ops_pb2.Alert(
        alert_id=alert.alert_id,
        kind=alert.kind,
        subject=alert.subject,
        service=alert.service,
        detail=alert.detail,
        state=_STATE[alert.state],  # type: ignore[arg-type]
        first_seen=_ts(alert.first_seen),
        last_seen=_ts(alert.last_seen),
        count=alert.count,
        acknowledged_at=_ts(alert.acknowledged_at),
        resolved_at=_ts(alert.resolved_at),
    )


def dead_letter_to_proto(letter: DeadLetter, *, with_payload: bool) -> ops_pb2.DeadLetter:
    message = ops_pb2.DeadLetter(
        seq=letter.seq,
        dead_at=_ts(letter.dead_at),
        consumer=letter.consumer,
        subject=letter.subject,
        reason=letter.reason,
        attempts=letter.attempts,
        failures=letter.failures,
        first_error=letter.first_error,
        first_failed_at=letter.first_failed_at,
        last_error=letter.last_error,
        last_failed_at=letter.last_failed_at,
        original_msg_id=letter.original_msg_id,
        original_stream=letter.original_stream,
        original_seq=letter.original_seq,
        headers=letter.headers,
        payload=letter.payload if with_payload else b"",
    )
    try:
        envelope = decode_envelope(letter.payload)
    except Exception:  # undecodable: that may be why it is here
        return message
    message.event_id = envelope.event_id
    message.event_type = envelope.event_type
    message.aggregate_id = envelope.aggregate_id
    return message


def _not_found(what: str) -> ServiceError:
    return ServiceError(Code.NOT_FOUND, "NOT_FOUND", what)


@dataclass
class OpsServicer(ops_pb2_grpc.OpsServiceServicer):
    engine: AsyncEngine
    js: JetStreamContext
    breaker: CircuitBreaker
    clock: Clock
    uow: UnitOfWorkFactory

    async def ListAlerts(
        self, request: ops_pb2.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.ListAlertsResponse:
        found = await alert_store.list_alerts(
            self.engine,
            include_resolved=request.include_resolved,
            limit=request.limit or DEFAULT_LIMIT,
        )
        return ops_pb2.ListAlertsResponse(alerts=[alert_to_proto(a) for a in found])

    async def AcknowledgeAlert(
        self, request: ops_pb2.AcknowledgeAlertRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.AcknowledgeAlertResponse:
        alert = await alert_store.acknowledge(self.engine, request.alert_id, self.clock())
        if alert is None:
            raise _not_found(f"no alert {request.alert_id}")
        return ops_pb2.AcknowledgeAlertResponse(alert=alert_to_proto(alert))

    async def ListDeadLetters(
        self, request: ops_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.ListDeadLettersResponse:
        letters = await dead_letters.read_dead_letters(
            self.js, request.consumer or None, request.limit or DEFAULT_LIMIT
        )
        return ops_pb2.ListDeadLettersResponse(
            dead_letters=[dead_letter_to_proto(d, with_payload=False) for d in letters]
        )

    async def GetDeadLetter(
        self, request: ops_pb2.GetDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.GetDeadLetterResponse:
        letter = await self._letter(request.seq)
        return ops_pb2.GetDeadLetterResponse(
            dead_letter=dead_letter_to_proto(letter, with_payload=True)
        )

    async def ReplayDeadLetter(
        self, request: ops_pb2.ReplayDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.ReplayDeadLetterResponse:
        letter = await self._letter(request.seq)
        try:
            await dead_letters.replay(self.js, letter)
        except ValueError as err:
            raise ServiceError(Code.FAILED_PRECONDITION, "INVALID_ARGUMENT", str(err)) from err
        return ops_pb2.ReplayDeadLetterResponse(
            dead_letter=dead_letter_to_proto(letter, with_payload=False)
        )

    async def DiscardDeadLetter(
        self, request: ops_pb2.DiscardDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.DiscardDeadLetterResponse:
        letter = await self._letter(request.seq)
        await dead_letters.discard(self.js, letter)
        return ops_pb2.DiscardDeadLetterResponse(
            dead_letter=dead_letter_to_proto(letter, with_payload=False)
        )

    async def GetPspBreaker(
        self, request: ops_pb2.GetPspBreakerRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.GetPspBreakerResponse:
        return ops_pb2.GetPspBreakerResponse(
            state=self.breaker.state.value, open_for_s=self.breaker.open_for_s()
        )

    async def LookupPayment(
        self, request: ops_pb2.LookupPaymentRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.LookupPaymentResponse:
        match = await sql_ops_reads.find_checkout(self.engine, request.query)
        if match is None:
            raise _not_found(f"no payment order, checkout or PSP reference {request.query}")
        checkout = await get_checkout(match.checkout_id, uow=self.uow)
        events = await sql_ops_reads.psp_events_of(self.engine, match.checkout_id)
        refunds = await sql_ops_reads.refunds_of(self.engine, match.checkout_id)
        return ops_pb2.LookupPaymentResponse(
            matched_by=match.matched_by,
            # No buyer contact data: an operator finds the payment, not the buyer.
            checkout=checkout_to_proto(checkout, show_pii=False),
            psp_events=[
                ops_pb2.PspEvent(
                    event_id=e.event_id,
                    type=e.type,
                    payment_order_id=e.payment_order_id,
                    psp_reference=e.psp_reference,
                    created_at=_ts(e.created_at),
                    received_at=_ts(e.received_at),
                    result=e.result,
                )
                for e in events
            ],
            refunds=[refund_to_proto(r) for r in refunds],
        )

    async def GetPaymentStats(
        self, request: ops_pb2.GetPaymentStatsRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.GetPaymentStatsResponse:
        minutes = await sql_ops_reads.payments_per_minute(
            self.engine, self.clock(), request.minutes or DEFAULT_STATS_MINUTES
        )
        return ops_pb2.GetPaymentStatsResponse(
            minutes=[
                ops_pb2.PaymentMinute(
                    minute=_ts(m.minute),
                    orders_by_status=m.orders_by_status,
                    psp_answers=m.psp_answers,
                    psp_latency_p50_ms=m.psp_latency_p50_ms,
                    psp_latency_p95_ms=m.psp_latency_p95_ms,
                    psp_latency_max_ms=m.psp_latency_max_ms,
                )
                for m in minutes
            ]
        )

    async def _letter(self, seq: int) -> DeadLetter:
        try:
            return await dead_letters.dead_letter_at(self.js, seq)
        except NoSuchDeadLetter as err:
            raise _not_found(str(err)) from err
