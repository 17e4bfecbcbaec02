"""The payment service's composition root: engine, NATS, outbox relay, the three consumers and
the gRPC server. `start(life, settings)` runs it in any event loop (tests run it in-process);
`main()` runs it as a process."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.db import make_engine
from mesh.grpc_server import GrpcServer
from mesh.jetstream import connect, ensure_streams, run_consumer
from mesh.outbox import OutboxRelay
from mesh.runtime import Lifecycle, run
from payment_svc.adapters.sql_uow import uow_factory
from payment_svc.adapters.stripe_psp import StripePaymentProvider
from payment_svc.domain.risk import RuleBasedRiskCheck
from payment_svc.entrypoints.consumers import (
    EXECUTOR,
    LEDGER_FLAG,
    WALLET_FLAG,
    ExecutorHandler,
    LedgerFlagHandler,
    WalletFlagHandler,
    executor_spec,
    ledger_flag_spec,
    wallet_flag_spec,
)
from payment_svc.entrypoints.events import encode_event
from payment_svc.entrypoints.grpc_servicer import SERVICE_NAME, PaymentServicer
from payment_svc.settings import PaymentSettings
from paymesh.payment.v1 import payment_pb2_grpc

SCHEMA = "payment"
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunningPaymentService:
    """A started service. Await it (`await running()`) to stop it, in order: gRPC first (calls
    in flight finish), then the relay and consumers, then the PSP client, NATS and the pool."""

    settings: PaymentSettings
    life: Lifecycle
    server: GrpcServer
    engine: AsyncEngine
    nc: NatsClient
    js: JetStreamContext
    relay: OutboxRelay
    psp: StripePaymentProvider
    _stopped: bool = False

    @property
    def grpc_port(self) -> int:
        return self.server.port

    async def __call__(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            await self.server.stop()
        finally:
            await self.life.cancel_all()
            await self.psp.aclose()
            await self.nc.close()
            await self.engine.dispose()


async def start(life: Lifecycle, settings: PaymentSettings | None = None) -> RunningPaymentService:
    """Start the payment service with `settings` (from the environment when None)."""
    settings = settings or PaymentSettings.from_env()
    async with AsyncExitStack() as undo:  # unwinds only if start-up fails half-way
        engine = make_engine(
            settings.database_url,
            SCHEMA,
            pool_size=settings.db_pool_size,
            application_name="payment_svc",
        )
        undo.push_async_callback(engine.dispose)
        nc, js = await connect(settings.nats_url, "payment_svc")
        undo.push_async_callback(nc.close)
        await ensure_streams(js)
        psp = StripePaymentProvider(
            settings.psp_api_key, settings.psp_api_base, settings.psp_timeout_s
        )
        undo.push_async_callback(psp.aclose)

        relay = OutboxRelay(engine, js)
        uow = uow_factory(engine, encode_event, on_commit=relay.wake)
        risk = RuleBasedRiskCheck(settings.risk_max_order_amount, settings.risk_blocked_buyers)
        servicer = PaymentServicer(
            uow=uow, risk=risk, fee_rate=settings.platform_fee_rate, clock=utc_now
        )
        server = GrpcServer(
            settings.grpc_addr,
            [(payment_pb2_grpc.add_PaymentServiceServicer_to_server, servicer, SERVICE_NAME)],
        )
        undo.push_async_callback(life.cancel_all)

        life.spawn("payment-outbox-relay", relay.run())
        life.spawn(
            EXECUTOR,
            run_consumer(
                js,
                executor_spec(settings.executor_concurrency),
                ExecutorHandler(uow=uow, psp=psp, clock=utc_now),
            ),
        )
        life.spawn(
            WALLET_FLAG,
            run_consumer(js, wallet_flag_spec(settings.flags_concurrency), WalletFlagHandler(uow)),
        )
        life.spawn(
            LEDGER_FLAG,
            run_consumer(js, ledger_flag_spec(settings.flags_concurrency), LedgerFlagHandler(uow)),
        )
        await server.start()
        undo.pop_all()  # started: from now on the returned stop function owns the clean-up
    return RunningPaymentService(
        settings=settings,
        life=life,
        server=server,
        engine=engine,
        nc=nc,
        js=js,
        relay=relay,
        psp=psp,
    )


def main() -> int:
    settings = PaymentSettings.from_env()

    async def _start(life: Lifecycle) -> RunningPaymentService:
        return await start(life, settings)

    return run("payment_svc", settings.log_level, _start)
