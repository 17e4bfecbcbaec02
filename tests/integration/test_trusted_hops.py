"""Trusted hops (docs/adr/0002-trusted-hops.md), each attack tried for real: a gRPC caller
without the mesh's certificate, one with another process's certificate claiming an API key, a
service publishing on another service's NATS subject, and the runtime database roles trying
what only an owner or superuser may."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import nats
import psycopg
import pytest
from click.testing import CliRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import text
from test_payment_svc import Env, create_request, payment_env, settled_checkout

from mesh import health_probe
from mesh.db_roles import RolePasswords, migrate_as_roles, owner_role, runtime_role, url_as
from mesh.events import PAYMENT_ORDER_SUCCEEDED, WALLET_CREDITED
from mesh.grpc_server import KEY_ID_METADATA, KEY_SCOPES_METADATA, REPLAYED_TRAILER
from mesh.jetstream import connect, ensure_streams
from mesh.migrations import SERVICES_WITH_SCHEMA, upgrade_all
from mesh.tls import TlsFiles, secure_channel
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc
from paymesh_cli.dev import migrate
from paymesh_cli.stack import EmbeddedPostgres, NatsServer, free_port
from paymesh_cli.stack.certs import issue_dev_pki
from paymesh_cli.stack.nats_auth import OPERATOR, SERVICE_RIGHTS, write_nats_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

IDENTITIES = ("gateway", "payment_svc", "wallet_svc")


# --- mutual TLS and the API key metadata --------------------------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, TlsFiles]:
    return issue_dev_pki(tmp_path / "tls", IDENTITIES)


@pytest.fixture
async def tls_env(
    database_url: str, nats_url: str, tmp_path: Path, pki: dict[str, TlsFiles]
) -> AsyncIterator[Env]:
    """The payment service serving mutual TLS with its own certificate; it lets wallet_svc call
    it too (as a service calling another would be let), to show what such a caller can and
    cannot do."""
    async with payment_env(
        database_url,
        nats_url,
        tmp_path,
        tls=pki["payment_svc"],
        grpc_allowed_callers=frozenset({"gateway", "wallet_svc"}),
    ) as e:
        yield e


@pytest.fixture
async def default_tls_env(
    database_url: str, nats_url: str, tmp_path: Path, pki: dict[str, TlsFiles]
) -> AsyncIterator[Env]:
    """The payment service as deployed: mutual TLS, only the gateway may call its RPCs."""
    async with payment_env(database_url, nats_url, tmp_path, tls=pki["payment_svc"]) as e:
        yield e


def stub_as(
    e: Env, files: TlsFiles | None
) -> tuple[grpc.aio.Channel, payment_pb2_grpc.PaymentServiceStub]:
    channel = secure_channel(f"127.0.0.1:{e.service.grpc_port}", files)
    return channel, payment_pb2_grpc.PaymentServiceStub(channel)


async def create(
    stub: payment_pb2_grpc.PaymentServiceStub, request: payment_pb2.CreatePaymentRequest, key: str
) -> tuple[payment_pb2.CreatePaymentResponse | grpc.aio.AioRpcError, bool]:
    rpc = stub.CreatePayment(request, timeout=10, metadata=((KEY_ID_METADATA, key),))
    try:
        answer: payment_pb2.CreatePaymentResponse | grpc.aio.AioRpcError = await rpc
    except grpc.aio.AioRpcError as err:
        answer = err
    trailers = await rpc.trailing_metadata()
    return answer, tuple(REPLAYED_TRAILER) in {(k, v) for k, v in trailers or ()}


async def test_a_caller_without_a_mesh_certificate_cannot_connect(
    tls_env: Env, tmp_path: Path
) -> None:
    strangers = issue_dev_pki(tmp_path / "other-ca", ["gateway"])  # the right name, wrong CA
    for files in (None, strangers["gateway"]):
        channel, stub = stub_as(tls_env, files)
        async with channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetCheckout(payment_pb2.GetCheckoutRequest(checkout_id="x"), timeout=5)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    # A client that presents no certificate, though it trusts the server's CA: the handshake
    # fails on the server's side.
    ca = await asyncio.to_thread(Path(tls_env_ca(tls_env)).read_bytes)
    async with grpc.aio.secure_channel(
        f"127.0.0.1:{tls_env.service.grpc_port}", grpc.ssl_channel_credentials(ca)
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def tls_env_ca(e: Env) -> str:
    tls = e.service.settings.tls
    assert tls is not None
    return tls.ca_file


async def test_only_the_gateways_certificate_may_speak_for_an_api_key(
    tls_env: Env, pki: dict[str, TlsFiles]
) -> None:
    request = create_request()
    gateway, gateway_stub = stub_as(tls_env, pki["gateway"])
    impostor, impostor_stub = stub_as(tls_env, pki["wallet_svc"])
    async with gateway, impostor:
        first, _ = await create(gateway_stub, request, "key_alice")
        assert isinstance(first, payment_pb2.CreatePaymentResponse)
        # Through the gateway, the same request under the same key is alice's replay.
        again, replayed = await create(gateway_stub, request, "key_alice")
        assert replayed and again == first

        # Another process of the mesh claiming alice's key is not alice: its request is not
        # her replay (it would read her stored answer); it is its own, refused because the
        # checkout's ids are taken.
        spoofed, spoofed_replayed = await create(impostor_stub, request, "key_alice")

        assert not spoofed_replayed
        assert isinstance(spoofed, grpc.aio.AioRpcError)
        assert spoofed.code() is grpc.StatusCode.ALREADY_EXISTS
        await settled_checkout(dataclasses.replace(tls_env, stub=gateway_stub), request.checkout_id)

        # Nor may it claim the `ops` scope to see what only operators see.
        get = payment_pb2.GetCheckoutRequest(checkout_id=request.checkout_id)
        ops = ((KEY_ID_METADATA, "key_alice"), (KEY_SCOPES_METADATA, "ops"))
        seen = await gateway_stub.GetCheckout(get, metadata=ops, timeout=10)
        claimed = await impostor_stub.GetCheckout(get, metadata=ops, timeout=10)
        assert seen.HasField("risk_decision")
        assert not claimed.HasField("risk_decision")


async def test_only_the_gateway_may_call_a_service_by_default(
    default_tls_env: Env, pki: dict[str, TlsFiles]
) -> None:
    """Nothing but the gateway calls the services: another process of the mesh (a stolen
    wallet certificate) cannot create payments or refunds in the shared space either."""
    request = create_request()
    channel, stub = stub_as(default_tls_env, pki["wallet_svc"])
    async with channel:
        answer, _ = await create(stub, request, "")
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert isinstance(answer, grpc.aio.AioRpcError)
    assert answer.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "wallet_svc may not call" in (answer.details() or "")
    assert reply.status == health_pb2.HealthCheckResponse.SERVING  # probes still work
    async with default_tls_env.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM payment_orders")) == 0
    gateway, gateway_stub = stub_as(default_tls_env, pki["gateway"])
    async with gateway:
        accepted, _ = await create(gateway_stub, request, "key_alice")
        assert isinstance(accepted, payment_pb2.CreatePaymentResponse)
        await settled_checkout(
            dataclasses.replace(default_tls_env, stub=gateway_stub), request.checkout_id
        )


async def test_health_answers_any_mesh_certificate_and_reflection_is_off(
    tls_env: Env, pki: dict[str, TlsFiles]
) -> None:
    channel = secure_channel(f"127.0.0.1:{tls_env.service.grpc_port}", pki["wallet_svc"])
    async with channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        with pytest.raises(grpc.aio.AioRpcError) as off:
            async for _ in stream:
                pass
    assert off.value.code() is grpc.StatusCode.UNIMPLEMENTED


# --- NATS users and subject permissions ---------------------------------------------------


@pytest.fixture
def secured_nats(tmp_path: Path) -> tuple[NatsServer, dict[str, str]]:
    passwords = {u: secrets.token_urlsafe(16) for u in (OPERATOR, *SERVICE_RIGHTS)}
    config = write_nats_config(tmp_path / "nats.conf", passwords)
    server = NatsServer(tmp_path / "nats", free_port(), config_file=config)
    server.start()
    yield server, passwords  # type: ignore[misc]
    server.stop()


async def test_a_service_may_publish_its_own_events_only(
    secured_nats: tuple[NatsServer, dict[str, str]],
) -> None:
    server, passwords = secured_nats
    violations: list[str] = []

    async def on_error(err: Exception) -> None:
        violations.append(str(err))

    wallet = await nats.connect(
        server.url,
        user="wallet_svc",
        password=passwords["wallet_svc"],
        error_cb=on_error,
        max_reconnect_attempts=0,
    )
    operator_nc, operator_js = await connect(
        server.url, "test-operator", user=OPERATOR, password=passwords[OPERATOR]
    )
    try:
        js = wallet.jetstream(timeout=2)
        await ensure_streams(js)  # every service may ensure the mesh's streams
        ack = await js.publish(WALLET_CREDITED, b"its own event")
        assert ack.stream == "WALLET"

        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.publish(PAYMENT_ORDER_SUCCEEDED, b"a forged payment event")
        await asyncio.sleep(0.2)
        assert any("permissions violation" in v.lower() for v in violations), violations
        assert (await operator_js.stream_info("PAYMENT")).state.messages == 0
        # Nor may it read the events with a plain subscription, around its durable consumers.
        violations.clear()
        await wallet.subscribe("payment.>")
        await wallet.flush()
        await asyncio.sleep(0.2)
        assert any("permissions violation" in v.lower() for v in violations), violations
        # Nor delete another service's stream.
        with pytest.raises(nats.errors.Error):
            await js.delete_stream("PAYMENT")
        assert (await operator_js.stream_info("PAYMENT")).config.name == "PAYMENT"
    finally:
        await wallet.close()
        await operator_nc.close()

    # And nobody gets in without a user (nats-py would keep trying: give it a few seconds).
    violations.clear()
    with pytest.raises((nats.errors.Error, TimeoutError)):
        async with asyncio.timeout(3):
            await nats.connect(
                server.url, error_cb=on_error, allow_reconnect=False, connect_timeout=2
            )
    assert any("authorization violation" in v.lower() for v in violations), violations


# --- PostgreSQL roles ---------------------------------------------------------------------


@pytest.fixture
def roles(database_url: str) -> dict[str, RolePasswords]:
    passwords = {
        schema: RolePasswords(secrets.token_urlsafe(12), secrets.token_urlsafe(12))
        for schema in SERVICES_WITH_SCHEMA.values()
    }
    migrate_as_roles(database_url, SERVICES_WITH_SCHEMA, passwords)
    return passwords


def as_runtime(database_url: str, schema: str, roles: dict[str, RolePasswords]) -> str:
    return url_as(database_url, runtime_role(schema), roles[schema].runtime)


def refused(url: str, statement: str) -> str:
    """The error PostgreSQL answers `statement` with, run as the URL's user."""
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as err:
            conn.execute(statement)
    return str(err.value)


def test_the_ledgers_runtime_role_cannot_rewrite_history(
    database_url: str, roles: dict[str, RolePasswords]
) -> None:
    ledger = as_runtime(database_url, "ledger", roles)
    with psycopg.connect(ledger, autocommit=True) as conn:  # what it is for still works
        assert conn.execute("SELECT count(*) FROM ledger.entries").fetchone() == (0,)
        assert conn.execute("SELECT current_user").fetchone() == ("ledger_app",)
    for statement in (
        "UPDATE ledger.entries SET amount = 0",
        "DELETE FROM ledger.transactions",
        "TRUNCATE ledger.entries",
    ):
        assert "permission denied" in refused(ledger, statement)
    for statement in (
        "ALTER TABLE ledger.entries DISABLE TRIGGER ALL",
        "ALTER TABLE ledger.entries DISABLE TRIGGER entries_append_only",
        "DROP TABLE ledger.entries",
    ):
        assert "must be owner" in refused(ledger, statement)
    assert "permission denied" in refused(ledger, "SET session_replication_role = replica")
    gateway = as_runtime(database_url, "gateway", roles)
    assert "permission denied" in refused(gateway, "DELETE FROM gateway.audit_log")
    payment = as_runtime(database_url, "payment", roles)
    assert "permission denied" in refused(payment, "DELETE FROM payment.risk_decisions")
    assert "permission denied" in refused(
        payment, "UPDATE payment.payment_order_history SET reason = ''"
    )


def test_a_service_role_cannot_read_another_services_schema(
    database_url: str, roles: dict[str, RolePasswords]
) -> None:
    payment = as_runtime(database_url, "payment", roles)
    assert "permission denied for schema ledger" in refused(payment, "SELECT * FROM ledger.entries")
    owner = url_as(database_url, owner_role("payment"), roles["payment"].owner)
    assert "permission denied for schema ledger" in refused(owner, "SELECT * FROM ledger.entries")
    with psycopg.connect(payment, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM payment.payment_orders").fetchone() == (0,)


def test_roles_sign_in_with_their_password_only(
    database_url: str, roles: dict[str, RolePasswords]
) -> None:
    wrong = url_as(database_url, runtime_role("ledger"), "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)


def test_migrating_again_keeps_the_roles_and_grants(
    database_url: str, roles: dict[str, RolePasswords]
) -> None:
    migrate_as_roles(database_url, SERVICES_WITH_SCHEMA, roles)  # idempotent
    ledger = as_runtime(database_url, "ledger", roles)
    assert "permission denied" in refused(ledger, "UPDATE ledger.entries SET amount = 0")


async def test_the_exec_health_probe_calls_over_mutual_tls(
    tls_env: Env, pki: dict[str, TlsFiles], monkeypatch: pytest.MonkeyPatch
) -> None:
    addr = f"127.0.0.1:{tls_env.service.grpc_port}"
    for name in ("MESH_TLS_CA_FILE", "MESH_TLS_CERT_FILE", "MESH_TLS_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert await asyncio.to_thread(health_probe.main, [addr]) == 1  # no certificate: refused

    files = pki["payment_svc"]  # the container's own
    monkeypatch.setenv("MESH_TLS_CA_FILE", files.ca_file)
    monkeypatch.setenv("MESH_TLS_CERT_FILE", files.cert_file)
    monkeypatch.setenv("MESH_TLS_KEY_FILE", files.key_file)
    assert await asyncio.to_thread(health_probe.main, [addr]) == 0


def test_schemas_migrated_by_the_superuser_before_are_handed_to_their_owners(
    database_url: str,
) -> None:
    upgrade_all(database_url)  # as a data dir from before the roles: all the superuser's
    passwords = {
        schema: RolePasswords(secrets.token_urlsafe(12), secrets.token_urlsafe(12))
        for schema in SERVICES_WITH_SCHEMA.values()
    }
    migrate_as_roles(database_url, SERVICES_WITH_SCHEMA, passwords)
    with psycopg.connect(database_url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT n.nspname, pg_get_userbyid(c.relowner)::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s)",
            (list(SERVICES_WITH_SCHEMA.values()),),
        ).fetchall()
    assert set(owners) == {(s, owner_role(s)) for s in SERVICES_WITH_SCHEMA.values()}
    ledger = as_runtime(database_url, "ledger", passwords)
    assert "must be owner" in refused(ledger, "ALTER TABLE ledger.entries DISABLE TRIGGER ALL")


def test_a_cluster_made_with_trust_gets_scram_and_its_password(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "pg", free_port()):
        pass  # initdb with trust, as paymesh dev did before passwords
    password = secrets.token_urlsafe(16)
    with EmbeddedPostgres(tmp_path / "pg", free_port(), password=password) as pg:
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        wrong = url_as(pg.url, "postgres", "not-the-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5)


async def test_a_plain_text_health_port_serves_health_only(
    database_url: str, nats_url: str, tmp_path: Path, pki: dict[str, TlsFiles]
) -> None:
    """For kubelet's gRPC probe, which cannot present a certificate."""
    async with payment_env(
        database_url, nats_url, tmp_path, tls=pki["payment_svc"], grpc_health_addr="127.0.0.1:0"
    ) as e:
        port = e.service.server.health_port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as nothing_else:
                await payment_pb2_grpc.PaymentServiceStub(channel).CreatePayment(
                    create_request(), timeout=5
                )
        assert nothing_else.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_a_certificate_without_a_uri_san_is_named_by_its_common_name(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """As cert-manager issues when given a commonName and no `uris`."""
    by_name = issue_dev_pki(tmp_path / "cn-only", ["payment_svc", "gateway"], uri_san=False)
    async with payment_env(database_url, nats_url, tmp_path, tls=by_name["payment_svc"]) as e:
        channel, stub = stub_as(e, by_name["gateway"])
        async with channel:
            request = create_request()
            answer, _ = await create(stub, request, "key_alice")
            again, replayed = await create(stub, request, "key_alice")
            assert isinstance(answer, payment_pb2.CreatePaymentResponse)
            assert replayed and again == answer
            await settled_checkout(dataclasses.replace(e, stub=stub), request.checkout_id)


def test_migrate_grants_login_roles_made_elsewhere(database_url: str) -> None:
    """As on Kubernetes, where the database operator makes a login role per service and the
    migration Job runs as the database's owner: `paymesh migrate --runtime-roles`."""
    password = secrets.token_urlsafe(12)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for role in ("ledger_rt", "payment_rt"):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD '{password}'")
    result = CliRunner().invoke(
        migrate,
        ["--database-url", database_url, "--runtime-roles", "ledger=ledger_rt,payment=payment_rt"],
    )
    assert result.exit_code == 0, result.output
    assert "runtime grants to ledger_rt, payment_rt" in result.output
    ledger = url_as(database_url, "ledger_rt", password)
    with psycopg.connect(ledger, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.entries").fetchone() == (0,)
    assert "permission denied" in refused(ledger, "UPDATE ledger.entries SET amount = 0")
    assert "must be owner" in refused(ledger, "ALTER TABLE ledger.entries DISABLE TRIGGER ALL")
    payment = url_as(database_url, "payment_rt", password)
    assert "permission denied for schema ledger" in refused(payment, "SELECT * FROM ledger.entries")
