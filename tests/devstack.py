"""`paymesh dev` as a user runs it, for e2e tests: started as a process on a free port with its
own data dir, an HTTP client with the dev API key, `paymesh check`, and a clean stop."""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymesh_cli.stack.ports import free_port
from paymesh_cli.stack.processes import _die_with_parent

PAYMESH = [sys.executable, "-m", "paymesh_cli.main"]
_started: list[subprocess.Popen[str]] = []


def tied_to_session() -> Callable[[], None] | None:
    """A `preexec_fn` that sends the child SIGTERM when this test process dies, however it dies:
    a test that times out ends pytest with os._exit (pytest-timeout), which runs no `finally`."""
    return _die_with_parent(signal.SIGTERM)


def start_process(argv: list[str], **popen: Any) -> subprocess.Popen[str]:
    """`subprocess.Popen` for a process a test starts (`paymesh dev` and the like): tied to the
    session (`tied_to_session`), and stopped at exit if a test left it running."""
    proc: subprocess.Popen[str] = subprocess.Popen(argv, preexec_fn=tied_to_session(), **popen)
    _started.append(proc)
    return proc


@atexit.register
def _stop_leftovers() -> None:
    for proc in _started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class DevStack:
    proc: subprocess.Popen[str]
    url: str
    client: httpx.Client
    data_dir: Path
    started: list[str]  # what `paymesh dev` printed until it was ready

    def metrics_url(self, process: str) -> str:
        """The /metrics URL of a process (`payment_svc`, `payment_svc-2`, ...)."""
        line = next(s for s in self.started if s.startswith(f"starting {process}… "))
        return line.split("metrics ", 1)[1].rstrip(")\n")

    def __getitem__(self, name: str):  # type: ignore[no-untyped-def]
        """`stack["client"]` as well as `stack.client`."""
        return getattr(self, name)

    def stack_info(self) -> dict[str, str]:
        return json.loads((self.data_dir / "stack.json").read_text())


@contextmanager
def dev_stack(
    data_dir: Path, env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[DevStack]:
    """`paymesh dev` on embedded PostgreSQL and NATS, with `env` added to its environment and
    `args` to its command line."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    environ.update(env or {})
    proc = start_process(
        [*PAYMESH, "dev", "--port", str(free_port()), "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 180
    url = None
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("paymesh ready:"):
            url = line.split()[2]
            break
    if url is None:
        proc.kill()
        pytest.fail("paymesh dev did not get ready:\n" + "".join(lines[-60:]))
    key = (data_dir / "dev-api-key").read_text().strip()
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        yield DevStack(proc, url, client, data_dir, lines)
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def check(stack: DevStack, settle_timeout: float = 30) -> dict:
    """`paymesh check --json` on the stack; fails the test unless every invariant holds."""
    out = subprocess.run(
        [
            *PAYMESH,
            "check",
            "--json",
            "--data-dir",
            str(stack.data_dir),
            "--settle-timeout",
            str(settle_timeout),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    return report


def pay(
    client: httpx.Client,
    orders: list[dict],
    payment_method: str = "pm_card_visa",
    key: str | None = None,
    checkout_id: str | None = None,
) -> tuple[dict, httpx.Response]:
    body = {
        "checkout_id": checkout_id or f"co-{uuid.uuid4().hex[:12]}",
        "buyer_info": {"buyer_id": "buyer-1", "email": "buyer@example.com"},
        "payment_method": payment_method,
        "payment_orders": orders,
    }
    return body, client.post(
        "/v1/payments", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def new_order(seller: str = "seller-r", amount: str = "10.00", currency: str = "USD") -> dict:
    return {
        "payment_order_id": f"po-{uuid.uuid4().hex[:12]}",
        "seller_account": seller,
        "amount": amount,
        "currency": currency,
    }


def wait_done(client: httpx.Client, checkout_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    checkout: dict = {}
    while time.monotonic() < deadline:
        resp = client.get(f"/v1/checkouts/{checkout_id}")
        assert resp.status_code == 200, resp.text
        checkout = resp.json()["checkout"]
        if checkout["is_payment_done"]:
            return checkout
        time.sleep(0.1)
    pytest.fail(f"checkout {checkout_id} not done in {timeout}s: {checkout}")
