"""Pure helpers of the dev stack: ports, the stack file, the service table, the data dir."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import click
import pytest

from paymesh_cli.dev import (
    DATA_DIR_MARKER,
    DEV_PSP_API_KEY,
    SERVICES,
    DevStack,
    allocate_ports,
    prepare_data_dir,
    write_secret,
)
from paymesh_cli.stack.ports import (
    free_port,
    free_port_except,
    port_is_free,
    port_of_url,
    reuse_or_free_port,
)
from paymesh_cli.stack.processes import log_size, log_tail
from paymesh_cli.stackfile import StackFileError, StackInfo

GRPC_ADDRS = ("PAYMENT_GRPC_ADDR", "WALLET_GRPC_ADDR", "LEDGER_GRPC_ADDR", "NOTIFY_GRPC_ADDR")


def test_a_free_port_can_be_bound_and_a_bound_one_is_not_free() -> None:
    port = free_port()
    assert port_is_free(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not port_is_free(port)
        assert reuse_or_free_port(port) != port
    assert reuse_or_free_port(port) == port
    assert reuse_or_free_port(port, avoid={port}) != port
    assert reuse_or_free_port(None) > 0
    assert not port_is_free(0) and not port_is_free(70000)


def test_free_ports_are_picked_below_the_range_outgoing_connections_take() -> None:
    # A port the kernel could also give a client's connection would be lost to it between
    # the pick and the server's bind ("Address already in use" at a service's start).
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(port < low for port in ports), (sorted(ports), low)
    assert len(ports) > 1  # picked at random, not one port for everybody


def test_free_port_except_skips_the_ports_handed_out() -> None:
    handed_out = {free_port() for _ in range(3)}
    assert free_port_except(handed_out) not in handed_out


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("postgresql://postgres@127.0.0.1:5433/paymesh", 5433),
        ("nats://127.0.0.1:4222", 4222),
        ("postgresql://db.example:5432/x", None),
        ("nats://127.0.0.1", None),
        ("", None),
        (None, None),
        ("nats://127.0.0.1:notaport", None),
    ],
)
def test_port_of_url(url: str | None, port: int | None) -> None:
    assert port_of_url(url) == port


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert log_tail(tmp_path / "missing.log") == ""


def _info(tmp_path: Path) -> StackInfo:
    return StackInfo(
        gateway_url="http://127.0.0.1:8080",
        database_url="postgresql://postgres@127.0.0.1:5433/paymesh",
        nats_url="nats://127.0.0.1:4222",
        psp_api_base="http://127.0.0.1:9000",
        psp_api_key=DEV_PSP_API_KEY,
        api_key_file=str(tmp_path / "dev-api-key"),
    )


def test_stack_file_round_trip(tmp_path: Path) -> None:
    info = _info(tmp_path)
    path = info.save(tmp_path)
    assert path == tmp_path / "stack.json"
    assert StackInfo.load(tmp_path) == info
    (tmp_path / "dev-api-key").write_text("pk_dev_123\n")
    assert info.api_key() == "pk_dev_123"


def test_stack_file_missing_or_incomplete(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="paymesh dev"):
        StackInfo.load(tmp_path)
    (tmp_path / "stack.json").write_text('{"gateway_url": "http://x", "extra": 1}')
    with pytest.raises(StackFileError, match="nats_url"):
        StackInfo.load(tmp_path)


def test_stack_file_ignores_unknown_keys(tmp_path: Path) -> None:
    info = _info(tmp_path)
    info.save(tmp_path)
    raw = (tmp_path / "stack.json").read_text().replace("{", '{"later_field": "x",', 1)
    (tmp_path / "stack.json").write_text(raw)
    assert StackInfo.load(tmp_path) == info


def test_every_service_gets_a_distinct_port_and_the_gateway_the_chosen_one() -> None:
    seen: list[set[int]] = []

    def fake_alloc(taken: set[int]) -> int:
        seen.append(set(taken))
        return 20000 + len(seen)

    ports = allocate_ports(8080, avoid={5432}, alloc=fake_alloc)
    assert ports["gateway"] == 8080
    assert set(ports) == {s.name for s in SERVICES}
    assert len(set(ports.values())) == len(ports)
    # Each allocation is told which ports are already handed out.
    assert seen[0] == {5432, 8080} and seen[1] == {5432, 8080, 20001}
    real = allocate_ports(8080, avoid={8081})
    assert 8081 not in real.values() and len(set(real.values())) == len(real)


def test_every_process_gets_the_shared_env_and_its_own() -> None:
    names = [s.name for s in SERVICES]
    assert len(names) == len(set(names))
    stack = DevStack(
        data_dir=Path("/data"),
        database_url="postgresql://postgres@127.0.0.1:5433/paymesh",
        nats_url="nats://127.0.0.1:4222",
        ports={name: 30000 + i for i, name in enumerate(names)},
        log_level="DEBUG",
    )
    for service in SERVICES:
        env = stack.env_for(service, {"PATH": "/bin", "DATABASE_URL": "overridden"})
        assert env["PATH"] == "/bin"
        assert env["DATABASE_URL"] == stack.database_url
        assert env["NATS_URL"] == stack.nats_url
        assert env["LOG_LEVEL"] == "DEBUG"
        assert env["PSP_API_BASE"] == f"http://127.0.0.1:{stack.ports['psp_sandbox']}"
        assert env["PSP_API_KEY"] == "sk_test_paymesh_dev"
        for var in GRPC_ADDRS:
            assert env[var].startswith("127.0.0.1:")
        assert "127.0.0.1" in env["NO_PROXY"]
    assert stack.common_env()["PAYMENT_GRPC_ADDR"] == f"127.0.0.1:{stack.ports['payment_svc']}"
    by_name = {s.name: s for s in SERVICES}
    psp = stack.env_for(by_name["psp_sandbox"], {})
    assert psp["PSP_SANDBOX_HOST"] == "127.0.0.1"
    assert psp["PSP_SANDBOX_PORT"] == str(stack.ports["psp_sandbox"])
    assert psp["PSP_SANDBOX_STATE_FILE"] == "/data/psp-sandbox.jsonl"
    gateway = stack.env_for(by_name["gateway"], {})
    assert gateway["GATEWAY_HOST"] == "127.0.0.1"
    assert gateway["GATEWAY_PORT"] == str(stack.ports["gateway"])
    assert stack.gateway_url == f"http://127.0.0.1:{stack.ports['gateway']}"


def test_fresh_deletes_only_a_paymesh_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "d"
    prepare_data_dir(data, fresh=False)
    assert (data / DATA_DIR_MARKER).exists() and (data / "logs").is_dir()
    (data / "kept").write_text("x")
    prepare_data_dir(data, fresh=False)
    assert (data / "kept").exists()
    prepare_data_dir(data, fresh=True)
    assert not (data / "kept").exists() and (data / DATA_DIR_MARKER).exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious").write_text("x")
    with pytest.raises(click.ClickException, match="refusing"):
        prepare_data_dir(foreign, fresh=True)
    assert (foreign / "precious").exists()


def test_the_dev_api_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "dev-api-key"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_secret(path, "pk_new")
    assert path.read_text() == "pk_new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_tests_get_the_marker_of_their_directory(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_log_tail_since_shows_only_the_current_run(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    assert log_size(log) == 0
    log.write_text("old run\nold crash\n")
    start = log_size(log)
    with log.open("a") as f:
        f.write("new run\n")
    assert log_tail(log, 10, since=start) == "new run"
