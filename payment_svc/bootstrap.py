"""The payment service's composition root: the gRPC servicer and the three consumers over its
SQL unit of work and the Stripe PSP, plugged into the mesh's start and ordered stop
(mesh.service). `start(life, settings)` runs it in any event loop (tests run it in-process);
`main()` runs it as a process."""

from __future__ import annotations

import base64
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.alert_store import resolve_stale
from mesh.log_redaction import hide_in_logs
from mesh.outbox import OutboxRelay
from mesh.periodic import every
from mesh.retention import RetentionRule
from mesh.runtime import Lifecycle, run
from mesh.service import Consumer, RunningService, Wiring, start_service
from mesh.settings import SettingsError
from payment_svc.adapters.guarded_psp import GuardedPsp, monotonic
from payment_svc.adapters.pii_cipher import PiiCipher
from payment_svc.adapters.sql_pii import reseal_all
from payment_svc.adapters.sql_uow import uow_factory
from payment_svc.adapters.stripe_charge_refunds import StripeChargeRefunds
from payment_svc.adapters.stripe_psp import StripePaymentProvider
from payment_svc.domain.breaker import CircuitBreaker
from payment_svc.domain.risk import RuleBasedRiskCheck, VelocityLimits
from payment_svc.entrypoints.alert_consumer import (
    ALERT_KEEPER,
    AlertKeeperHandler,
    Unsettled,
    alert_keeper_spec,
    breaker_watch,
)
from payment_svc.entrypoints.consumers import (
    EXECUTOR,
    LEDGER_FLAG,
    WALLET_FLAG,
    ExecutorHandler,
    executor_spec,
    ledger_flag_handler,
    ledger_flag_spec,
    wallet_flag_handler,
    wallet_flag_spec,
)
from payment_svc.entrypoints.events import encode_event
from payment_svc.entrypoints.grpc_servicer import SERVICE_NAME, PaymentServicer
from payment_svc.entrypoints.ops_servicer import SERVICE_NAME as OPS_SERVICE_NAME
from payment_svc.entrypoints.ops_servicer import OpsServicer
from payment_svc.entrypoints.refund_consumer import (
    REFUND_EXECUTOR,
    RefundExecutorHandler,
    refund_executor_spec,
)
from payment_svc.entrypoints.refund_servicer import SERVICE_NAME as REFUND_SERVICE_NAME
from payment_svc.entrypoints.refund_servicer import RefundServicer
from payment_svc.entrypoints.webhook_servicer import (
    SERVICE_NAME as WEBHOOK_SERVICE_NAME,
)
from payment_svc.entrypoints.webhook_servicer import PspWebhookServicer
from payment_svc.risk_wiring import with_risk_provider
from payment_svc.service_layer.create_payment import IdempotencyPolicy
from payment_svc.service_layer.execute_refund import sweep_stuck_refunds
from payment_svc.service_layer.purge_keys import purge_expired_keys
from payment_svc.service_layer.sweep import reannounce_unflagged, sweep_stuck_orders
from payment_svc.settings import PaymentSettings
from paymesh.ops.v1 import ops_pb2_grpc
from paymesh.payment.v1 import payment_pb2_grpc, psp_webhooks_pb2_grpc, refunds_pb2_grpc

SERVICE = "payment_svc"
SCHEMA = "payment"
PURGE_INTERVAL_S = 600.0
PII_RESEAL_INTERVAL_S = 600.0
ALERT_STALENESS_INTERVAL_S = 60.0

# A started service: `.grpc_port`; await it (`await running()`) to stop it, in order: gRPC
# first (calls in flight finish), then the relay and consumers, then the PSP client, NATS and
# the pool.
RunningPaymentService = RunningService


def utc_now() -> datetime:
    return datetime.now(UTC)


async def start(life: Lifecycle, settings: PaymentSettings | None = None) -> RunningPaymentService:
    """Start the payment service with `settings` (from the environment when None)."""
    config = settings or PaymentSettings.from_env()
    hide_in_logs(
        config.psp_api_key,
        config.stripe_webhook_secret,
        *(base64.b64encode(key).decode() for key in config.pii_keys.values()),
        urlsplit(config.database_url).password or "",
    )

    cipher = PiiCipher(config.pii_keys, config.pii_active_key_id)

    def wire(engine: AsyncEngine, relay: OutboxRelay) -> Wiring:
        reseal = partial(reseal_all, engine, cipher)
        stripe_psp = StripePaymentProvider(
            config.psp_api_key, config.psp_api_base, config.psp_timeout_s
        )
        # Every PSP call of the process behind one breaker (docs/adr/0015-psp-circuit-breaker.md).
        breaker = CircuitBreaker(config.psp_breaker, monotonic)
        psp = GuardedPsp(stripe_psp, breaker, config.psp_drain_rate)
        unsettled = Unsettled()
        uow = uow_factory(engine, encode_event, on_commit=relay.wake, cipher=cipher)
        risk = RuleBasedRiskCheck(
            config.risk_max_order_amount,
            config.risk_blocked_buyers,
            VelocityLimits(
                timedelta(seconds=config.risk_velocity_window_s),
                config.risk_velocity_max_checkouts,
                config.risk_velocity_max_amount,
            ),
        )
        risk, risk_closers = with_risk_provider(risk, config.risk_provider, uow, utc_now)
        servicer = PaymentServicer(
            uow=uow,
            risk=risk,
            fee_rate=config.platform_fee_rate,
            clock=utc_now,
            psp=psp,
            idempotency=IdempotencyPolicy(
                key_ttl=timedelta(seconds=config.idempotency_key_ttl_s),
                lease=timedelta(seconds=config.idempotency_lease_s),
            ),
        )
        stuck_after = timedelta(seconds=config.sweeper_stuck_after_s)

        async def sweep() -> None:
            report = await sweep_stuck_orders(
                uow=uow, psp=psp, clock=utc_now, stuck_after=stuck_after
            )
            unsettled.orders = report.still_open  # alerts while they stay (order_unsettled)
            again = await reannounce_unflagged(
                uow=uow,
                clock=utc_now,
                quiet_for=timedelta(seconds=config.sweeper_reannounce_after_s),
            )
            unsettled.unannounced = again.lost

        async def sweep_refunds() -> None:
            report = await sweep_stuck_refunds(
                uow=uow, psp=psp, clock=utc_now, stuck_after=stuck_after
            )
            unsettled.refunds = report.still_open

        async def resolve_stale_alerts() -> None:
            await resolve_stale(engine, utc_now())

        purge = partial(purge_expired_keys, uow, utc_now)
        refund_servicer = RefundServicer(
            uow,
            utc_now,
            servicer.idempotency,
            psp=psp,
            # Outside the breaker: a person's rare decision, not the hot path (ADR 0025).
            charge_refunds=StripeChargeRefunds(stripe_psp),
        )
        return Wiring(
            servicers=[
                (payment_pb2_grpc.add_PaymentServiceServicer_to_server, servicer, SERVICE_NAME),
                (
                    psp_webhooks_pb2_grpc.add_PspWebhookServiceServicer_to_server,
                    PspWebhookServicer(
                        uow,
                        utc_now,
                        config.stripe_webhook_secret,
                        timedelta(seconds=config.webhook_max_future_s),
                    ),
                    WEBHOOK_SERVICE_NAME,
                ),
                (
                    refunds_pb2_grpc.add_RefundServiceServicer_to_server,
                    refund_servicer,
                    REFUND_SERVICE_NAME,
                ),
                (
                    ops_pb2_grpc.add_OpsServiceServicer_to_server,
                    OpsServicer(engine, relay.js, breaker, utc_now, uow),
                    OPS_SERVICE_NAME,
                ),
            ],
            consumers=[
                Consumer(
                    EXECUTOR,
                    executor_spec(config.executor_concurrency, config.retry),
                    ExecutorHandler(
                        uow=uow, psp=psp, clock=utc_now, gate=psp.check, retry=config.retry
                    ),
                ),
                Consumer(
                    WALLET_FLAG,
                    wallet_flag_spec(config.flags_concurrency, config.retry),
                    wallet_flag_handler(uow),
                ),
                Consumer(
                    LEDGER_FLAG,
                    ledger_flag_spec(config.flags_concurrency, config.retry),
                    ledger_flag_handler(uow),
                ),
                Consumer(
                    REFUND_EXECUTOR,
                    refund_executor_spec(config.executor_concurrency, config.retry),
                    RefundExecutorHandler(uow=uow, psp=psp, clock=utc_now),
                ),
                Consumer(ALERT_KEEPER, alert_keeper_spec(config.retry), AlertKeeperHandler(engine)),
            ],
            tasks=[
                ("payment-sweeper", partial(every, config.sweeper_interval_s, sweep, "sweeper")),
                (
                    "refund-sweeper",
                    partial(every, config.sweeper_interval_s, sweep_refunds, "refund sweeper"),
                ),
                # Seals rows stored in clear before migration 0006, and moves rows to the active
                # key after a rotation; a no-op query once every row is under it.
                ("pii-reseal", partial(every, PII_RESEAL_INTERVAL_S, reseal, "PII re-seal")),
                (
                    "alert-staleness",
                    partial(every, ALERT_STALENESS_INTERVAL_S, resolve_stale_alerts, "alerts"),
                ),
                (
                    "payment-key-purge",
                    partial(every, PURGE_INTERVAL_S, purge, "idempotency key purge"),
                ),
            ],
            closers=[stripe_psp.aclose, *risk_closers],
            alerts=[breaker_watch(breaker), unsettled.watch()],
            retention=[
                RetentionRule(
                    "psp_events", "received_at", ("event_id",), config.psp_events_retention_s
                )
            ],
        )

    return await start_service(life, config, name=SERVICE, schema=SCHEMA, wire=wire)


def main() -> int:
    try:
        settings = PaymentSettings.from_env()
    except SettingsError as err:
        # One line that says why, not a traceback: the operator fixes a variable and restarts.
        print(f"{SERVICE}: refusing to start: {err}", file=sys.stderr)
        return 2

    async def _start(life: Lifecycle) -> RunningPaymentService:
        return await start(life, settings)

    return run(SERVICE, settings.log_level, _start)
