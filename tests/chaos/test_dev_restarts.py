"""`paymesh dev` plays the orchestrator on one machine: a service killed with SIGKILL is started
again at once, and the stack pays as before. (`paymesh chaos`, in test_crashes, restarts its
victims itself after a pause; this is the restart a developer gets from `make run`.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx
import psutil
import pytest
from devstack import start_process

PAYMESH = [sys.executable, "-m", "paymesh_cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_line(lines: list[str], prefix: str, timeout: float, after: int = 0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in lines[after:]:
            if line.startswith(prefix):
                return line
        time.sleep(0.1)
    pytest.fail(f"no line {prefix!r} from paymesh dev:\n" + "".join(lines[-60:]))


def _pay(client: httpx.Client) -> str:
    checkout_id = f"restart-{uuid.uuid4().hex[:8]}"
    body = {
        "checkout_id": checkout_id,
        "buyer_info": {"buyer_id": "buyer-1"},
        "payment_method": "pm_card_visa",
        "payment_orders": [
            {
                "payment_order_id": f"{checkout_id}-0",
                "seller_account": "seller-1",
                "amount": "12.50",
                "currency": "USD",
            }
        ],
    }
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(150):  # the same key and body while the service comes back
        try:
            response = client.post("/v1/payments", json=body, headers=headers)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 202:
            return checkout_id
        assert response is None or response.status_code in (429, 502, 503, 504), response.text
        time.sleep(0.2)
    pytest.fail(f"checkout {checkout_id} never accepted")


@pytest.mark.timeout(600)  # up to 180 s to get ready, 90 s to restart, 60 s to pay, 60 s to stop
def test_dev_starts_a_killed_service_again_and_pays(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    argv = [*PAYMESH, "dev", "--port", str(_free_port()), "--data-dir", str(tmp_path / "data")]
    dev = start_process(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []

    def read() -> None:
        assert dev.stdout is not None
        for line in dev.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        url = _wait_for_line(lines, "paymesh ready:", 180).split()[2]
        key = (tmp_path / "data" / "dev-api-key").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            mark = len(lines)
            children = psutil.Process(dev.pid).children(recursive=True)
            victim = next(c for c in children if c.cmdline()[-2:] == ["-m", "payment_svc"])
            victim.send_signal(signal.SIGKILL)
            _wait_for_line(lines, "payment_svc restarted", 90, after=mark)

            checkout_id = _pay(client)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                response = client.get(f"/v1/checkouts/{checkout_id}")
                if response.status_code == 200 and response.json()["checkout"]["is_payment_done"]:
                    break
                time.sleep(0.2)
            else:
                pytest.fail(f"checkout {checkout_id} not done after the restart")
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGTERM)
            try:
                dev.wait(timeout=60)
            except subprocess.TimeoutExpired:
                dev.kill()
