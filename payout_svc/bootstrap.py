"""The payout service's composition root: the gRPC servicer, the `payout-executor` consumer,
the sweeper and the scheduled run over its SQL unit of work, the wallet's holds over gRPC and
the Stripe Connect provider, plugged into the mesh's start and ordered stop (mesh.service)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.outbox import OutboxRelay
from mesh.periodic import every
from mesh.runtime import Lifecycle, run
from mesh.service import Consumer, Wiring, start_service
from paymesh.payout.v1 import payout_pb2_grpc, payout_webhooks_pb2_grpc
from payout_svc.adapters.sql import SqlPayoutUnitOfWork
from payout_svc.adapters.stripe_payouts import StripePayoutProvider
from payout_svc.entrypoints.executor import EXECUTOR, executor_handler, executor_spec
from payout_svc.entrypoints.grpc_servicer import SERVICE_NAME, PayoutServicer
from payout_svc.entrypoints.outgoing import encode_event
from payout_svc.entrypoints.payout_alerts import payout_watch
from payout_svc.entrypoints.wallet_client import GrpcHolds, wallet_channel
from payout_svc.entrypoints.webhook_servicer import SERVICE_NAME as WEBHOOK_SERVICE_NAME
from payout_svc.entrypoints.webhook_servicer import PayoutWebhookServicer
from payout_svc.service_layer.payouts import sweep
from payout_svc.service_layer.runs import run_payouts
from payout_svc.settings import PayoutSettings

SERVICE = "payout_svc"
SCHEMA = "payout"


def utc_now() -> datetime:
    return datetime.now(UTC)


async def start(
    life: Lifecycle, settings: PayoutSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Start the service; returns its `stop()`."""
    config = settings or PayoutSettings.from_env()

    def wire(engine: AsyncEngine, relay: OutboxRelay) -> Wiring:
        def new_uow() -> SqlPayoutUnitOfWork:
            return SqlPayoutUnitOfWork(engine, encode_event, after_commit=relay.wake)

        channel = wallet_channel(config.wallet_grpc_addr, config.tls)
        holds = GrpcHolds(channel)
        provider = StripePayoutProvider(
            config.provider_api_key, config.provider_api_base, config.provider_timeout_s
        )
        sweeper = partial(
            sweep,
            new_uow,
            holds,
            provider,
            utc_now,
            config.stuck_after_s,
            config.return_window_s,
        )

        async def scheduled_run() -> None:
            await run_payouts(new_uow, holds, utc_now, utc_now().date())

        async def close_channel() -> None:
            await channel.close()

        return Wiring(
            servicers=[
                (
                    payout_pb2_grpc.add_PayoutServiceServicer_to_server,
                    PayoutServicer(new_uow, holds, utc_now),
                    SERVICE_NAME,
                ),
                (
                    payout_webhooks_pb2_grpc.add_PayoutWebhookServiceServicer_to_server,
                    PayoutWebhookServicer(new_uow, holds, utc_now, config.webhook_secret),
                    WEBHOOK_SERVICE_NAME,
                ),
            ],
            consumers=[
                Consumer(
                    EXECUTOR,
                    executor_spec(config.executor_concurrency),
                    executor_handler(new_uow, holds, provider, utc_now),
                )
            ],
            tasks=[
                ("payout-sweeper", partial(every, config.sweep_interval_s, sweeper, "sweeper")),
                (
                    "payout-schedule",
                    partial(every, config.schedule_interval_s, scheduled_run, "scheduled run"),
                ),
            ],
            closers=[provider.aclose, close_channel],
            alerts=[payout_watch(engine, config.payout_alerts, utc_now)],
        )

    return await start_service(life, config, name=SERVICE, schema=SCHEMA, wire=wire)


def main() -> int:
    settings = PayoutSettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
