"""The ledger's composition root: the `ledger-post`, `ledger-refund` and `ledger-wallet-move`
consumers and the gRPC servicer over its
SQL unit of work, plugged into the mesh's start and ordered stop (mesh.service)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger_svc.adapters.sql import SqlLedgerUnitOfWork
from ledger_svc.entrypoints.consumer import consumer_spec, post_handler
from ledger_svc.entrypoints.grpc_servicer import SERVICE_NAME
from ledger_svc.entrypoints.move_consumer import move_consumer_spec, move_handler
from ledger_svc.entrypoints.outgoing import encode_event
from ledger_svc.entrypoints.recon_books_servicer import LedgerWithReconBooksServicer
from ledger_svc.entrypoints.refund_consumer import refund_consumer_spec, refund_handler
from ledger_svc.settings import LedgerSettings
from mesh.outbox import OutboxRelay
from mesh.runtime import Lifecycle, run
from mesh.service import Consumer, Wiring, start_service
from paymesh.ledger.v1 import ledger_pb2_grpc

SERVICE = "ledger_svc"
SCHEMA = "ledger"


async def start(
    life: Lifecycle, settings: LedgerSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Start the service; returns its `stop()`."""
    config = settings or LedgerSettings.from_env()

    def wire(engine: AsyncEngine, relay: OutboxRelay) -> Wiring:
        def new_uow() -> SqlLedgerUnitOfWork:
            return SqlLedgerUnitOfWork(engine, encode_event, after_commit=relay.wake)

        return Wiring(
            servicers=[
                (
                    ledger_pb2_grpc.add_LedgerServiceServicer_to_server,
                    LedgerWithReconBooksServicer(new_uow),
                    SERVICE_NAME,
                )
            ],
            consumers=[
                Consumer(
                    "ledger-post-consumer",
                    consumer_spec(config.consumer_concurrency, config.retry),
                    post_handler(new_uow),
                ),
                Consumer(
                    "ledger-refund-consumer",
                    refund_consumer_spec(config.consumer_concurrency, config.retry),
                    refund_handler(new_uow),
                ),
                Consumer(
                    "ledger-wallet-move-consumer",
                    move_consumer_spec(config.consumer_concurrency),
                    move_handler(new_uow),
                ),
            ],
        )

    return await start_service(life, config, name=SERVICE, schema=SCHEMA, wire=wire)


def main() -> int:
    settings = LedgerSettings.from_env()
    return run(SERVICE, settings.log_level, lambda life: start(life, settings))
