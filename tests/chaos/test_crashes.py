"""kill -9 of any service while checkouts are in flight loses nothing and charges nothing twice.

`paymesh dev` starts a crashed service again (as an orchestrator would); JetStream redelivers
what the dead process had not acknowledged; the PSP replays a charge asked again with the same
idempotency key. Afterwards every order is SUCCESS, booked once, charged once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

PAYMESH = [sys.executable, "-m", "paymesh_cli.main"]
CHECKOUTS_PER_WAVE = 25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevStack:
    def __init__(self, data_dir) -> None:
        self.data_dir = data_dir
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [*PAYMESH, "dev", "--port", str(free_port()), "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")},
        )
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.wait_for_line("paymesh ready:", 180)
        self.url = ready.split()[2]
        key = (data_dir / "dev-api-key").read_text().strip()
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for_line(self, prefix: str, timeout: float, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if line.startswith(prefix):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no line {prefix!r} from paymesh dev:\n" + "".join(self.lines[-80:]))

    def kill9(self, module: str) -> None:
        """SIGKILL the service process running `python -m module`, and wait for its restart."""
        mark = len(self.lines)
        children = psutil.Process(self.proc.pid).children(recursive=True)
        victim = next(c for c in children if c.cmdline()[-2:] == ["-m", module])
        victim.send_signal(signal.SIGKILL)
        self.wait_for_line(f"{module} restarted", 90, after=mark)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def stack(tmp_path):
    dev = DevStack(tmp_path / "data")
    yield dev
    dev.stop()


def pay(client: httpx.Client, wave: int, i: int) -> str:
    checkout_id = f"chaos-{wave}-{i}-{uuid.uuid4().hex[:6]}"
    body = {
        "checkout_id": checkout_id,
        "buyer_info": {"buyer_id": f"buyer-{i}"},
        "payment_method": "pm_card_visa",
        "payment_orders": [
            {
                "payment_order_id": f"{checkout_id}-{k}",
                "seller_account": f"seller-{(i + k) % 7}",
                "amount": f"{10 + i}.{k}5",
                "currency": "USD",
            }
            for k in range(2)
        ],
    }
    key = str(uuid.uuid4())
    for _ in range(100):  # a client retries with the same key while a service restarts
        try:
            resp = client.post("/v1/payments", json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError:
            resp = None
        if resp is not None and resp.status_code == 202:
            return checkout_id
        time.sleep(0.2)
    pytest.fail(f"checkout {checkout_id} never accepted: {resp and resp.text}")


def wave(stack: DevStack, n: int) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: pay(stack.client, n, i), range(CHECKOUTS_PER_WAVE)))


def test_kill_minus_nine_of_every_service_loses_nothing(stack):
    checkouts: list[str] = []
    for n, victim in enumerate(["payment_svc", "wallet_svc", "ledger_svc", "psp_sandbox"]):
        submitting = ThreadPoolExecutor(1).submit(wave, stack, n)
        time.sleep(0.5)  # let the wave get going, then pull the plug mid-flight
        stack.kill9(victim)
        checkouts += submitting.result(timeout=180)
    checkouts += wave(stack, 99)  # and the restarted stack takes new work as before

    deadline = time.monotonic() + 180
    pending = set(checkouts)
    while pending and time.monotonic() < deadline:
        for cid in list(pending):
            resp = stack.client.get(f"/v1/checkouts/{cid}")
            if resp.status_code == 200 and resp.json()["checkout"]["is_payment_done"]:
                pending.discard(cid)
        time.sleep(0.5)
    assert not pending, f"{len(pending)} checkouts never finished, e.g. {sorted(pending)[:3]}"

    out = subprocess.run(
        [*PAYMESH, "check", "--json", "--data-dir", str(stack.data_dir), "--settle-timeout", "60"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"], report["violations"]
    orders = 2 * len(checkouts)
    assert report["stats"]["orders_by_status"] == {"SUCCESS": orders}
    assert report["stats"]["psp_charged_orders"] == orders
