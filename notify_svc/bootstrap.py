"""The notify service's composition root: the `notify-events` consumer, the delivery loop and
the gRPC servicer over its SQL unit of work, plugged into the mesh's start and ordered stop
(mesh.service)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.metrics import (
    MARKETPLACE_ENDPOINTS_DISABLED,
    MARKETPLACE_WEBHOOK_ATTEMPTS,
    MARKETPLACE_WEBHOOK_LATENCY,
)
from mesh.outbox import OutboxRelay
from mesh.runtime import Lifecycle, run
from mesh.service import Consumer, RunningService, Wiring, start_service
from notify_svc.adapters.http_sender import HttpSender
from notify_svc.adapters.secret_box import SecretBox
from notify_svc.adapters.sql import SqlNotifyUnitOfWork
from notify_svc.domain.endpoint import DisablePolicy
from notify_svc.domain.retry import RetrySchedule
from notify_svc.entrypoints.consumer import (
    events_consumer_spec,
    events_handler,
    payout_events_consumer_spec,
    recon_events_consumer_spec,
)
from notify_svc.entrypoints.endpoint_alerts import endpoint_watch
from notify_svc.entrypoints.grpc_servicer import SERVICE_NAME, NotifyServicer
from notify_svc.service_layer.delivery import Deliverer, DeliveryPolicy, Outcome
from notify_svc.service_layer.ports import DueDelivery, SendResult
from notify_svc.settings import NotifySettings
from paymesh.notify.v1 import notify_pb2_grpc

SERVICE = "notify_svc"
SCHEMA = "notify"


def utc_now() -> datetime:
    return datetime.now(UTC)


def observe(due: DueDelivery, result: SendResult, outcome: Outcome) -> None:
    MARKETPLACE_WEBHOOK_ATTEMPTS.labels(due.event_type, outcome.result).inc()
    MARKETPLACE_WEBHOOK_LATENCY.observe(result.duration_ms / 1000)
    if outcome.disabled:
        MARKETPLACE_ENDPOINTS_DISABLED.inc()


async def start(life: Lifecycle, settings: NotifySettings | None = None) -> RunningService:
    """Start the service; await the result to stop it."""
    config = settings or NotifySettings.from_env()

    def wire(engine: AsyncEngine, relay: OutboxRelay) -> Wiring:
        box = SecretBox(config.secret_key)

        def new_uow() -> SqlNotifyUnitOfWork:
            return SqlNotifyUnitOfWork(engine, box)

        sender = HttpSender(config.delivery_timeout_s)
        deliverer = Deliverer(
            new_uow,
            sender,
            DeliveryPolicy(
                schedule=RetrySchedule(config.retry_schedule_s),
                disable=DisablePolicy(config.disable_after_failures, config.disable_after_s),
                concurrency=config.delivery_concurrency,
                per_endpoint=config.delivery_per_endpoint,
                lease_s=config.delivery_timeout_s * 3 + 5,
            ),
            utc_now,
            observe,
        )

        async def deliver() -> None:
            await deliverer.run(config.poll_interval_s)

        return Wiring(
            servicers=[
                (
                    notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                    NotifyServicer(
                        new_uow,
                        utc_now,
                        allow_http_loopback=config.allow_http_loopback,
                        redelivered=deliverer.wake,
                    ),
                    SERVICE_NAME,
                )
            ],
            consumers=[
                Consumer(
                    "notify-events-consumer",
                    events_consumer_spec(config.consumer_concurrency),
                    events_handler(new_uow, utc_now, deliverer.wake),
                ),
                Consumer(
                    "notify-payout-events-consumer",
                    payout_events_consumer_spec(config.consumer_concurrency),
                    events_handler(new_uow, utc_now, deliverer.wake),
                ),
                Consumer(
                    "notify-recon-events-consumer",
                    recon_events_consumer_spec(config.consumer_concurrency),
                    events_handler(new_uow, utc_now, deliverer.wake),
                ),
            ],
            tasks=[("notify-delivery", deliver)],
            alerts=[endpoint_watch(engine)],
            closers=[sender.close],
        )

    return await start_service(life, config, name=SERVICE, schema=SCHEMA, wire=wire)


def main() -> int:
    settings = NotifySettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
