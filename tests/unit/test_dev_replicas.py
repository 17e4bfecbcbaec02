"""`paymesh dev --replicas`: each replica of a service listens on a port of its own, and every
other process reaches the service through one target naming them all (mesh.grpc_targets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mesh.grpc_targets import ROUND_ROBIN, address_list, channel_options, tls_name
from paymesh_cli import bench_cpu
from paymesh_cli.dev import (
    SERVICES,
    DevStack,
    allocate_metrics_ports,
    allocate_more_replicas,
    allocate_ports,
    parse_replicas,
)

BY_NAME = {s.name: s for s in SERVICES}


def test_replicas_are_read_per_grpc_service() -> None:
    assert parse_replicas("payment_svc=2, wallet_svc=3") == {"payment_svc": 2, "wallet_svc": 3}
    assert parse_replicas("") == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("gateway=2", "SERVICE one of"),  # one port, given by --port
        ("psp_sandbox=2", "SERVICE one of"),  # stands for one outside PSP
        ("payment_svc", "SERVICE=N"),
        ("payment_svc=0", "from 1 to 8"),
        ("payment_svc=two", "from 1 to 8"),
        ("payment_svc=9", "from 1 to 8"),
    ],
)
def test_a_wrong_replica_count_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_replicas(text)


def test_each_replica_listens_on_its_own_port_and_the_others_get_them_all() -> None:
    replicas = {"payment_svc": 2, "ledger_svc": 3}
    ports = allocate_ports(8080, avoid={5432})
    more = allocate_more_replicas(replicas, {5432, *ports.values()})
    metrics = allocate_metrics_ports({5432, *ports.values()}, replicas=replicas)
    all_ports = [*ports.values(), *(p for ps in more.values() for p in ps), *metrics.values()]
    assert len(set(all_ports)) == len(all_ports)  # nothing shared
    assert {n: len(ps) for n, ps in more.items()} == {"payment_svc": 1, "ledger_svc": 2}

    stack = DevStack(
        Path("/tmp/x"),
        "postgresql://db",
        "nats://n",
        ports,
        metrics_ports=metrics,
        more_replicas=more,
    )
    payment = BY_NAME["payment_svc"]
    first, second = stack.replicas(payment)
    assert first == ("payment_svc", f"127.0.0.1:{ports['payment_svc']}")
    assert second == ("payment_svc-2", f"127.0.0.1:{more['payment_svc'][0]}")

    # The second replica listens on its own port and serves its metrics on its own port ...
    env = stack.env_for(payment, {}, replica=1)
    assert env["PAYMENT_GRPC_ADDR"] == second[1]
    assert env["PAYMENT_METRICS_ADDR"] == f"127.0.0.1:{metrics['payment_svc-2']}"
    # ... and reaches the ledger's three replicas through one target.
    ledger = [addr for _, addr in stack.replicas(BY_NAME["ledger_svc"])]
    assert env["LEDGER_GRPC_ADDR"] == "ipv4:" + ",".join(ledger)
    gateway = stack.env_for(BY_NAME["gateway"], {})
    assert gateway["PAYMENT_GRPC_ADDR"] == f"ipv4:{first[1]},{second[1]}"
    assert gateway["WALLET_GRPC_ADDR"] == stack.addr("wallet_svc")  # one replica: as before


def test_a_target_of_several_addresses_is_checked_against_its_hosts_name() -> None:
    assert address_list(["127.0.0.1:1"]) == "127.0.0.1:1"
    assert address_list(["127.0.0.1:1", "127.0.0.1:2"]) == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert tls_name("ipv4:127.0.0.1:1,127.0.0.1:2") == "127.0.0.1"
    assert tls_name("ipv6:[::1]:1,[::1]:2") == "::1"
    assert tls_name("dns:///payment-svc:50051") is None  # gRPC's authority is the DNS name
    assert tls_name("payment-svc:50051") is None

    options = dict(channel_options("ipv4:127.0.0.1:1,127.0.0.1:2", tls=True))
    assert options == {
        "grpc.service_config": ROUND_ROBIN,
        "grpc.ssl_target_name_override": "127.0.0.1",
    }
    assert dict(channel_options("payment-svc:50051", tls=True)) == {
        "grpc.service_config": ROUND_ROBIN
    }
    assert "grpc.ssl_target_name_override" not in dict(
        channel_options("ipv4:127.0.0.1:1,127.0.0.1:2", tls=False)
    )


def test_the_benchmark_sums_a_services_replicas_under_its_name() -> None:
    # Two "replicas" that each spend some CPU, then wait to be sampled.
    burn = "import sys, time; sum(range(3_000_000)); print(1, flush=True); time.sleep(30)"
    procs = [
        subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE) for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline()
        a, b = (proc.pid for proc in procs)
        both = bench_cpu.StackProcesses({"payment_svc": (a, b), "gateway": (a,)})
        summed = bench_cpu.sample(both)
        each = bench_cpu.sample(bench_cpu.StackProcesses({"a": (a,), "b": (b,)}))
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert min(each.values()) > 0
    assert summed["payment_svc"] == pytest.approx(each["a"] + each["b"], abs=0.03)
    assert both.replicas() == {"payment_svc": 2}
