"""`paymesh dev` protects each hop as the ADR says (docs/adr/0002-trusted-hops.md): no secret in
any started process's argv, secrets in files only their owner may read, every service on its
own least-privilege database role, gRPC closed to callers without the mesh's certificate; and
a checkout still goes through all of it."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import psycopg
import pytest
from devstack import DevStack, check, dev_stack, new_order, pay, wait_done
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paymesh_cli.dev import DEV_PSP_API_KEY

pytestmark = pytest.mark.e2e

SANDBOX_WEBHOOK_SECRET = "whsec_paymesh_sandbox_dev"
SERVICES = {"payment_svc": "payment", "wallet_svc": "wallet", "ledger_svc": "ledger"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with dev_stack(tmp_path_factory.mktemp("hops") / "data") as s:
        yield s


def started(stack: DevStack) -> list[psutil.Process]:
    """Every process `paymesh dev` started, and theirs (PostgreSQL's backends too)."""
    return psutil.Process(stack.proc.pid).children(recursive=True)


def secrets_of(stack: DevStack) -> list[str]:
    passwords = json.loads((stack.data_dir / "secrets" / "passwords.json").read_text())
    api_key = (stack.data_dir / "dev-api-key").read_text().strip()
    return [*passwords.values(), api_key, DEV_PSP_API_KEY, SANDBOX_WEBHOOK_SECRET]


def test_no_secret_travels_in_any_argv(stack: DevStack) -> None:
    processes = started(stack)
    names = {" ".join(p.cmdline()[:3]) for p in processes}
    assert len(processes) >= 7, names  # postgres, nats, the sandbox, 3 services, the gateway
    secrets = secrets_of(stack)
    assert len(secrets) >= 12
    for proc in processes:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        leaked = [s for s in secrets if s in cmdline]
        assert not leaked, f"{cmdline!r} carries a secret"


def test_secret_files_are_their_owners_only(stack: DevStack) -> None:
    data = stack.data_dir
    files = [data / "stack.json", data / "dev-api-key"]
    files += [*(data / "secrets").iterdir(), *(data / "tls").iterdir()]
    assert len(files) >= 10
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for directory in (data / "secrets", data / "tls"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(data.stat().st_mode) & 0o077 in (0, 0o011)  # at most traversable


def test_each_service_connects_as_its_runtime_role(stack: DevStack) -> None:
    wait_done(stack.client, pay(stack.client, [new_order()])[0]["checkout_id"])
    admin = stack.stack_info()["database_url"]
    with psycopg.connect(admin) as conn:
        rows = conn.execute(
            "SELECT DISTINCT application_name, usename::text FROM pg_stat_activity "
            "WHERE application_name = ANY(%s)",
            ([*SERVICES, "gateway"],),
        ).fetchall()
        superuser = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE '%%_app' AND rolsuper"
        ).fetchall()
    expected = {(name, f"{schema}_app") for name, schema in SERVICES.items()}
    assert expected | {("gateway", "gateway_app")} == set(rows)
    assert superuser == []
    check(stack)


def test_grpc_refuses_a_caller_without_the_mesh_certificate(stack: DevStack) -> None:
    payment = next(p for p in started(stack) if p.cmdline()[-1:] == ["payment_svc"])
    addr = payment.environ()["PAYMENT_GRPC_ADDR"]

    async def health_without_certificate() -> None:
        async with grpc.aio.insecure_channel(addr) as channel:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        asyncio.run(health_without_certificate())
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
