"""What the integration tests of a consuming service share: the service started in-process on
the test's PostgreSQL and NATS, a gRPC channel to it, `payment.order.succeeded` envelopes
published to the PAYMENT stream, and the events read back off the streams; and the sandbox PSP
served over HTTP in-process (`running_sandbox`)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import grpc
import httpx
import uvicorn
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from google.rpc import status_pb2
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

import mesh.migrations
from ledger_svc.bootstrap import start as start_ledger
from ledger_svc.settings import LedgerSettings
from mesh.cards import contains_card_number
from mesh.db import make_engine
from mesh.events import PAYMENT_ORDER_SUCCEEDED, M, decode_envelope, new_envelope
from mesh.jetstream import connect
from mesh.runtime import Lifecycle
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from paymesh_cli.stack.ports import free_port
from psp_sandbox import SandboxSettings, create_app
from wallet_svc.bootstrap import start as start_wallet
from wallet_svc.settings import WalletSettings

TIMEOUT_S = 15.0
S = TypeVar("S")


def new_request_id() -> str:
    """A UUID the card-number guard accepts: about 0.2 % of random UUIDs hold a dash-grouped
    digit run that passes Luhn and would be refused as a card number."""
    while True:
        candidate = str(uuid.uuid4())
        if not contains_card_number(candidate):
            return candidate


def listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


async def wait_until_healthy(base: str, server_task: asyncio.Task[None]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        async with asyncio.timeout(10):
            while True:
                if server_task.done():
                    server_task.result()  # raises why the sandbox could not start
                    raise RuntimeError("the sandbox stopped before it was ready")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.02)


@asynccontextmanager
async def running_sandbox(state_file: Path, port: int = 0) -> AsyncIterator[str]:
    """Serve the sandbox PSP in-process on 127.0.0.1 (a free port unless told) until the block
    ends; yields its base URL."""
    sock = listening_socket(port)
    port = sock.getsockname()[1]
    app = create_app(SandboxSettings(port=port, state_file=state_file))
    # A request still open at the end (a test that failed mid-call, a fault that hangs) must
    # not keep the server, and with it the test, waiting: uvicorn waits forever by default.
    config = uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_healthy(base, task)
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()


async def intents_by_order(psp_base: str, api_key: str) -> dict[str, int]:
    """How many PaymentIntents the sandbox holds per payment order, whatever their status: a
    second one for an order is a second charge attempt, even if it was declined."""
    counts: dict[str, int] = {}
    params: dict[str, str | int] = {"limit": 100}
    async with httpx.AsyncClient(
        base_url=psp_base, headers={"Authorization": f"Bearer {api_key}"}
    ) as client:
        while True:
            response = await client.get("/v1/payment_intents", params=params)
            page = response.raise_for_status().json()
            intents = page["data"]
            for intent in intents:
                order_id = (intent.get("metadata") or {}).get("payment_order_id", "")
                counts[order_id] = counts.get(order_id, 0) + 1
            if not page["has_more"] or not intents:
                return counts
            params = {"limit": 100, "starting_after": intents[-1]["id"]}


async def eventually(check: Callable[[], Awaitable[Any]], within: float = TIMEOUT_S) -> Any:
    """Poll `check` until it returns something truthy (returned) or `within` seconds pass."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s: last result {result!r}")
        await asyncio.sleep(0.02)


def succeeded(
    order_id: str,
    seller: str,
    amount: str,
    fee: str,
    currency: str = "USD",
    *,
    fee_currency: str | None = None,
) -> events_pb2.Envelope:
    """A `payment.order.succeeded` envelope, as payment_svc publishes it."""
    payload = events_pb2.PaymentOrderSucceeded(
        payment_order_id=order_id,
        checkout_id=f"co-{order_id}",
        seller_account=seller,
        amount=money_pb2.Money(amount=amount, currency=currency),
        fee=money_pb2.Money(amount=fee, currency=fee_currency or currency),
        psp_reference=f"ch_{order_id}",
    )
    return new_envelope(PAYMENT_ORDER_SUCCEEDED, order_id, payload)


def rich_status(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no rich status in the error")


@dataclass
class ServiceHarness:
    """A started service seen from a test. A subclass names the service's consumer of the
    PAYMENT stream (`durable`) and adds its gRPC stub and reads."""

    js: JetStreamContext
    engine: AsyncEngine
    life: Lifecycle

    durable: ClassVar[str]

    async def publish(self, env: events_pb2.Envelope, msg_id: str | None = None) -> int:
        """Publish an envelope; a fresh `msg_id` gets past the stream's duplicate window, as
        a redelivery would. Returns its stream sequence."""
        ack = await self.js.publish(
            env.event_type, env.SerializeToString(), headers={"Nats-Msg-Id": msg_id or env.event_id}
        )
        return ack.seq

    async def processed(self, seq: int) -> None:
        """Wait until the consumer has acked (or dead-lettered) everything up to `seq`."""

        async def done() -> bool:
            try:
                info = await self.js.consumer_info("PAYMENT", self.durable)
            except NotFoundError:
                return False
            return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= seq

        await eventually(done)

    async def outbox_drained(self) -> None:
        async def done() -> bool:
            async with self.engine.connect() as conn:
                left = await conn.scalar(
                    text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                )
            return left == 0

        await eventually(done)

    async def events(self, stream: str, subject: str) -> list[tuple[Any, events_pb2.Envelope]]:
        """Every message on `subject` in `stream`: (raw message, envelope)."""
        try:
            info = await self.js.stream_info(stream)
        except NotFoundError:
            return []
        if not info.state.messages:
            return []
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg(stream, seq)
            if msg.subject == subject:
                found.append((msg, decode_envelope(msg.data)))
        return found

    async def published(self, stream: str, subject: str, cls: type[M]) -> list[M]:
        """The payloads of every event the service published on `subject`, once its outbox is
        drained; each envelope's aggregate is the payload's payment order."""
        await self.outbox_drained()
        out = []
        for _, env in await self.events(stream, subject):
            payload = cls()
            assert env.payload.Unpack(payload)
            assert env.aggregate_id == payload.payment_order_id  # type: ignore[attr-defined]
            out.append(payload)
        return out


@dataclass
class Started:
    js: JetStreamContext
    channel: grpc.aio.Channel
    engine: AsyncEngine
    life: Lifecycle


@asynccontextmanager
async def started_service(
    package: str,
    schema: str,
    start: Callable[[Lifecycle, S], Awaitable[Callable[[], Awaitable[None]]]],
    settings: Callable[[str], S],
    database_url: str,
    nats_url: str,
) -> AsyncIterator[Started]:
    """Migrate `package`'s schema, start it in-process with `settings(grpc_addr)` on a free
    port, and give the test its own NATS connection, gRPC channel and engine on `schema`; all
    stopped and closed on the way out."""
    await asyncio.to_thread(mesh.migrations.upgrade, package, database_url)
    port = free_port()
    life = Lifecycle()
    stop = await start(life, settings(f"127.0.0.1:{port}"))
    nc, js = await connect(nats_url, f"{schema}-tests")
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    engine = make_engine(database_url, schema, pool_size=2)
    try:
        yield Started(js, channel, engine, life)
    finally:
        await channel.close()
        await stop()
        await nc.close()
        await engine.dispose()


@asynccontextmanager
async def started_wallet(database_url: str, nats_url: str) -> AsyncIterator[Started]:
    """The wallet service (its `wallet-credit` consumer and gRPC) started in-process."""

    def settings(grpc_addr: str) -> WalletSettings:
        return WalletSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            consumer_concurrency=16,
            db_pool_size=4,
        )

    async with started_service(
        "wallet_svc", "wallet", start_wallet, settings, database_url, nats_url
    ) as service:
        yield service


@asynccontextmanager
async def started_ledger(database_url: str, nats_url: str) -> AsyncIterator[Started]:
    """The ledger service (its `ledger-post` consumer and gRPC) started in-process."""

    def settings(grpc_addr: str) -> LedgerSettings:
        return LedgerSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            consumer_concurrency=16,
            db_pool_size=4,
        )

    async with started_service(
        "ledger_svc", "ledger", start_ledger, settings, database_url, nats_url
    ) as service:
        yield service


async def stream_messages(js: JetStreamContext, stream: str) -> int:
    """How many messages `stream` holds (0 when it does not exist)."""
    try:
        return (await js.stream_info(stream)).state.messages
    except NotFoundError:
        return 0


async def consumer_idle(js: JetStreamContext, stream: str, durable: str) -> bool:
    """True when the durable consumer exists and has acked (or dead-lettered) every message of
    its stream it takes: nothing left to deliver, nothing delivered and waiting for an ack or
    a redelivery."""
    try:
        info = await js.consumer_info(stream, durable)
    except NotFoundError:
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0


async def consumer_drained(js: JetStreamContext, stream: str, durable: str) -> None:
    """Wait until `consumer_idle`."""
    await eventually(lambda: consumer_idle(js, stream, durable))


async def migrations_diff(
    package: str, schema: str, metadata: MetaData, database_url: str
) -> list[Any]:
    """What differs between `package`'s tables module (`metadata`) and its migrations."""
    await asyncio.to_thread(mesh.migrations.upgrade, package, database_url)
    engine = make_engine(database_url, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"compare_type": True, "compare_server_default": True}
                    ),
                    metadata,
                )
            )
    finally:
        await engine.dispose()
