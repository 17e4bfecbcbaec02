"""`paymesh dev` on the operator's own PostgreSQL and NATS (DATABASE_URL / NATS_URL): it starts
neither itself, migrates the given database, and pays as usual."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
from devstack import start_process

from paymesh_cli.stack.ports import free_port

PAYMESH = [sys.executable, "-m", "paymesh_cli.main"]


def test_dev_uses_the_database_and_nats_it_is_given(database_url, nats_url, tmp_path):
    data_dir = tmp_path / "data"
    env = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": nats_url}
    proc = start_process(
        [*PAYMESH, "dev", "--port", str(free_port()), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("paymesh ready:"):
                break
        out = "".join(lines)
        assert "paymesh ready:" in out, out
        assert "using DATABASE_URL from the environment" in out
        assert "using NATS_URL from the environment" in out
        assert "starting postgres" not in out and "starting nats" not in out
        assert not (data_dir / "pg").exists()

        url = lines[-1].split()[2]
        key = (data_dir / "dev-api-key").read_text().strip()
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        checkout_id = f"co-{uuid.uuid4().hex[:10]}"
        body = {
            "checkout_id": checkout_id,
            "buyer_info": {"buyer_id": "b1"},
            "payment_method": "pm_card_visa",
            "payment_orders": [
                {
                    "payment_order_id": f"{checkout_id}-a",
                    "seller_account": "s1",
                    "amount": "42.00",
                    "currency": "EUR",
                },
            ],
        }
        resp = client.post(
            "/v1/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert resp.status_code == 202, resp.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            checkout = client.get(f"/v1/checkouts/{checkout_id}").json()["checkout"]
            if checkout["is_payment_done"]:
                break
            time.sleep(0.1)
        assert checkout["is_payment_done"], checkout
        wallet = client.get("/v1/wallets/s1").json()["balances"]
        assert wallet == [
            {
                "currency": "EUR",
                "pending": "37.80",
                "available": "0.00",
                "reserved": "0.00",
                "total": "37.80",
                "debt": "0.00",
            }
        ]
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert code == 0
    # The money invariants are checked on database_url after the test (tests/conftest.py).
