"""The benchmark's own parts: CPU read from /proc, the open loop's schedule, the summary."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from paymesh_cli import bench_cpu
from paymesh_cli.bench import cpu_table, summarise
from paymesh_cli.bench_baseline import connection_env
from paymesh_cli.bench_load import Run, submit_open_loop

pytestmark = pytest.mark.unit


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_of_a_process_grows_with_the_work_it_does():
    before = bench_cpu.read_stat(os.getpid())
    burn(0.2)
    after = bench_cpu.read_stat(os.getpid())
    assert before is not None and after is not None
    assert after.ppid == os.getppid()
    assert after.cpu_s - before.cpu_s >= 0.15


def test_a_gone_process_has_no_stat():
    assert bench_cpu.read_stat(2**22 + 12345) is None


def test_the_process_listening_on_a_port_is_found():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert bench_cpu.pid_listening_on(port) == os.getpid()
    assert bench_cpu.pid_listening_on(port) is None


def test_a_group_is_its_root_and_every_descendant():
    stats = [
        bench_cpu.ProcStat(1, 0, 0, 0),
        bench_cpu.ProcStat(10, 1, 0, 0),
        bench_cpu.ProcStat(11, 10, 0, 0),
        bench_cpu.ProcStat(12, 11, 0, 0),
        bench_cpu.ProcStat(20, 1, 0, 0),
    ]
    assert bench_cpu.children_of(10, stats) == {10, 11, 12}


def test_a_service_is_named_by_its_module():
    child = subprocess.Popen([sys.executable, "-m", "json.tool"], stdin=subprocess.PIPE)
    try:
        # Right after fork the child still shows our own command line until it execs.
        deadline = time.monotonic() + 10
        while bench_cpu.process_label(child.pid) != "json.tool" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bench_cpu.process_label(child.pid) == "json.tool"
    finally:
        child.kill()
        child.wait()


def test_cpu_per_order_and_paymesh_total_leave_the_sandbox_out():
    per = bench_cpu.per_order_ms(
        {"payment_svc": 1.0, "psp_sandbox": 1.0, "postgresql": 2.0},
        {"payment_svc": 3.0, "psp_sandbox": 2.0, "postgresql": 3.0, "new": 9.0},
        1000,
    )
    assert per == {"payment_svc": 2.0, "postgresql": 1.0, "psp_sandbox": 1.0}
    assert cpu_table(per)["paymesh_total"] == 3.0
    assert bench_cpu.per_order_ms({"a": 1.0}, {"a": 2.0}, 0) == {}


def test_the_open_loop_keeps_its_schedule_when_the_system_is_slow():
    """Each answer takes 0.3 s; at 40 checkouts/s for 0.5 s the 20 requests must all be sent
    on schedule (not one after the other), and their latency counts from the schedule."""
    sent: list[float] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        sent.append(time.time())
        await asyncio.sleep(0.3)
        return httpx.Response(202, json={})

    async def main() -> Run:
        run = Run("t", 20, 2)
        transport = httpx.MockTransport(slow)
        async with httpx.AsyncClient(base_url="http://bench", transport=transport) as client:
            await submit_open_loop(client, run, rate=40.0, progress=False)
        return run

    started = time.time()
    run = asyncio.run(main())
    elapsed = time.time() - started
    assert len(run.accepted_at) == 20
    assert elapsed < 1.5  # 0.5 s of arrivals + 0.3 s answers, not 20 x 0.3 s
    assert max(sent) - min(sent) == pytest.approx(19 / 40, abs=0.15)
    assert min(run.post_latency_s) >= 0.29
    assert run.load_end > 0


def test_the_summary_counts_what_was_still_queued_when_the_load_stopped():
    run = Run("r", 2, 1)
    run.accepted_at = {"bench-r-0": 10.0, "bench-r-1": 11.0}
    run.first_accept, run.last_accept, run.load_end = 9.9, 11.0, 11.0
    run.settled_at = {"bench-r-0-0": 10.5, "bench-r-1-0": 13.0}
    s = summarise(run)
    assert s["queued_orders_at_load_end"] == 1
    assert s["drain_after_load_s"] == 2.0
    assert s["settled_orders"] == 2


def test_pgbench_gets_the_password_through_the_environment():
    env = connection_env("postgresql://svc:s%40cret@127.0.0.1:5999/paymesh", "scratch")
    assert env == {
        "PGHOST": "127.0.0.1",
        "PGPORT": "5999",
        "PGUSER": "svc",
        "PGDATABASE": "scratch",
        "PGPASSWORD": "s@cret",
    }
