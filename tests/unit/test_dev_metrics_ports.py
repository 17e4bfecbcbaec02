"""`paymesh dev` gives each gRPC service a /metrics port of its own, distinct from every other
port of the stack, and tells the service through `<PREFIX>_METRICS_ADDR`."""

from __future__ import annotations

from pathlib import Path

from paymesh_cli.dev import SERVICES, DevStack, allocate_metrics_ports, allocate_ports


def test_each_grpc_service_gets_a_metrics_port_of_its_own() -> None:
    ports = allocate_ports(8080, avoid={5432, 4222})
    metrics = allocate_metrics_ports({5432, 4222, *ports.values()})
    assert set(metrics) == {
        "payment_svc",
        "wallet_svc",
        "ledger_svc",
        "notify_svc",
        "payout_svc",
        "recon_svc",
    }
    assert not set(metrics.values()) & {5432, 4222, *ports.values()}
    assert len(set(metrics.values())) == len(metrics)

    stack = DevStack(Path("/tmp/x"), "postgresql://db", "nats://n", ports, metrics_ports=metrics)
    by_name = {s.name: s for s in SERVICES}
    env = stack.env_for(by_name["payment_svc"], {})
    assert env["PAYMENT_METRICS_ADDR"] == f"127.0.0.1:{metrics['payment_svc']}"
    assert "WALLET_METRICS_ADDR" not in env  # each process is told its own only
    assert stack.metrics_url("ledger_svc") == f"http://127.0.0.1:{metrics['ledger_svc']}/metrics"
    assert stack.metrics_url("gateway") is None  # served on the gateway's own port
    assert "GATEWAY_METRICS_ADDR" not in stack.env_for(by_name["gateway"], {})


def test_a_stack_without_metrics_ports_lets_each_service_pick_a_free_one() -> None:
    """`paymesh chaos` builds its stacks without them: never a fixed port two stacks share."""
    ports = allocate_ports(8080)
    stack = DevStack(Path("/tmp/x"), "postgresql://db", "nats://n", ports)
    service = next(s for s in SERVICES if s.name == "wallet_svc")
    assert stack.env_for(service, {})["WALLET_METRICS_ADDR"] == "127.0.0.1:0"
