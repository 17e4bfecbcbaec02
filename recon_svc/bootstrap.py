"""The reconciliation service's composition root: the gRPC servicer over its SQL store, the
PSP report sources, paymesh's orders and books read by COPY, the DuckDB matchers, the payment
service's flows and the ledger's PSP bookings over gRPC, and the scheduled run, plugged into
the mesh's start and ordered stop (mesh.service)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.outbox import OutboxRelay
from mesh.periodic import every
from mesh.runtime import Lifecycle, run
from mesh.service import Wiring, start_service
from paymesh.recon.v1 import recon_pb2_grpc
from recon_svc.adapters.duckdb_books import DuckDbLedgerMatcher
from recon_svc.adapters.duckdb_matcher import DuckDbMatcher
from recon_svc.adapters.pg_books import PostgresBooks
from recon_svc.adapters.pg_records import PostgresRecords
from recon_svc.adapters.sandbox_settlement import SandboxSettlementReports
from recon_svc.adapters.sql_store import SqlReconStore
from recon_svc.adapters.stripe_reports import StripeReportSettings, StripeReportTransactions
from recon_svc.entrypoints.background_runs import BackgroundRuns
from recon_svc.entrypoints.grpc_servicer import SERVICE_NAME, ReconServicer
from recon_svc.entrypoints.ledger_books import GrpcPspBooks
from recon_svc.entrypoints.outgoing import encode_event
from recon_svc.entrypoints.payment_client import GrpcPaymentFlows, payment_channel
from recon_svc.entrypoints.suspense_client import GrpcSuspenseBooks, ledger_channel
from recon_svc.service_layer.books import BooksSettings
from recon_svc.service_layer.ports import PspBooks, PspReportSource
from recon_svc.service_layer.runs import RunDeps, scheduled_run
from recon_svc.settings import ReconSettings

SERVICE = "recon_svc"
SCHEMA = "recon"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def report_sources(config: ReconSettings) -> dict[str, PspReportSource]:
    """The PSP report sources by name: the sandbox's daily settlement CSV, and
    `stripe_reports`, the Reporting API's itemized reports through the stripe SDK (real Stripe
    and the sandbox alike)."""
    return {
        "sandbox_settlement": SandboxSettlementReports(config.psp_api_base, config.psp_api_key),
        "stripe_reports": StripeReportTransactions(
            StripeReportSettings(config.psp_api_key, config.psp_api_base)
        ),
    }


def run_deps(
    config: ReconSettings,
    engine: AsyncEngine,
    flows: GrpcPaymentFlows,
    relay: OutboxRelay,
    psp_books: PspBooks,
) -> RunDeps:
    return RunDeps(
        store=SqlReconStore(engine, encode_event, after_commit=relay.wake),
        psp_reports=report_sources(config),
        ours=PostgresRecords(config.orders_database_url),
        new_matcher=DuckDbMatcher,
        flows=flows,
        scratch_root=config.scratch_dir,
        clock=utc_now,
        new_id=new_id,
        books=PostgresBooks(config.orders_database_url),
        ledger_matcher=DuckDbLedgerMatcher(),
        psp_books=psp_books,
        books_settings=BooksSettings(
            clearing_delay=timedelta(seconds=config.clearing_delay_s),
            recheck=timedelta(seconds=config.internal_recheck_s),
        ),
    )


async def start(
    life: Lifecycle, settings: ReconSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Start the service; returns its `stop()`."""
    config = settings or ReconSettings.from_env()

    def wire(engine: AsyncEngine, relay: OutboxRelay) -> Wiring:
        channel = payment_channel(config.payment_grpc_addr, config.tls)
        ledger = ledger_channel(config.ledger_grpc_addr, config.tls)
        deps = run_deps(config, engine, GrpcPaymentFlows(channel), relay, GrpcPspBooks(ledger))
        background = BackgroundRuns()
        servicer = ReconServicer(
            deps, config.source, config.write_off_limits, background, GrpcSuspenseBooks(ledger)
        )

        async def close_channel() -> None:
            await channel.close()
            await ledger.close()

        tasks = []
        if config.schedule_interval_s > 0:
            job = partial(scheduled_run, deps, config.source)
            tasks.append(
                ("recon-schedule", partial(every, config.schedule_interval_s, job, "recon run"))
            )
        return Wiring(
            servicers=[(recon_pb2_grpc.add_ReconServiceServicer_to_server, servicer, SERVICE_NAME)],
            tasks=tasks,
            closers=[background.aclose, close_channel],
        )

    return await start_service(life, config, name=SERVICE, schema=SCHEMA, wire=wire)


def main() -> int:
    settings = ReconSettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
