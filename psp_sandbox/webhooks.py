"""Signed webhook delivery, as Stripe does it.

Each event is POSTed as JSON to the configured URL with a `Stripe-Signature` header,
`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed by the webhook secret>`, which
`stripe.Webhook.construct_event` verifies. A non-2xx answer or a failed connection is retried
with exponential backoff (base, 2x base, 4x base, ...) up to MAX_ATTEMPTS; then the delivery is
given up and kept, marked, for inspection. Pending deliveries are journaled records, so a
restarted sandbox carries on sending them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from psp_sandbox.events import DELIVERY
from psp_sandbox.store import SandboxStore

log = logging.getLogger("psp_sandbox.webhooks")

MAX_ATTEMPTS = 8
MAX_BATCH = 32  # deliveries sent at once
SEND_TIMEOUT_S = 10.0


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.{payload}".encode()
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def encode_event(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON


class WebhookSender:
    def __init__(
        self,
        store: SandboxStore,
        url: str,
        secret: str,
        retry_base_s: float,
        clock: Callable[[], float] = time.time,
        connect_url: str = "",
        connect_secret: str = "",
    ) -> None:
        self._store = store
        self._url = url
        self._secret = secret
        # Events of connected accounts (with `account`) go to the Connect endpoint.
        self._connect_url = connect_url
        self._connect_secret = connect_secret
        self._retry_base_s = retry_base_s
        self._clock = clock
        # Made on first use: building its TLS context costs ~50 ms, for nothing without a URL.
        self._http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def send_due(self) -> int:
        """Send the deliveries that are due, oldest due first; how many were attempted."""
        if not self._url and not self._connect_url:
            return 0
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=SEND_TIMEOUT_S)
        now = self._clock()
        due = sorted(
            (
                (record["due"], delivery_id, record)
                for delivery_id, record in self._store.records(DELIVERY).items()
                if not record.get("gave_up") and record["due"] <= now
            ),
            key=lambda item: (item[0], item[1]),
        )[:MAX_BATCH]
        await asyncio.gather(*(self._send(delivery_id, record) for _, delivery_id, record in due))
        return len(due)

    async def _send(self, delivery_id: str, record: dict[str, Any]) -> None:
        event = self._store.get(record["event"], "event")
        if event is None:  # cannot happen: an event and its deliveries are stored together
            self._store.save(records=[(DELIVERY, delivery_id, None)])
            return
        payload = encode_event(event)
        timestamp = int(self._clock())
        url, secret = (
            (self._connect_url, self._connect_secret)
            if event.get("account")
            else (self._url, self._secret)
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature_header(payload, secret, timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        status: int | None = None
        assert self._http is not None
        try:
            response = await self._http.post(url, content=payload, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("webhook %s for %s failed: %s", delivery_id, event["type"], exc)
        if status is not None and 200 <= status < 300:
            pending = max(0, event.get("pending_webhooks", 1) - 1)
            self._store.save(
                objects=[{**event, "pending_webhooks": pending}],
                records=[(DELIVERY, delivery_id, None)],
            )
            return
        attempts = record["attempts"] + 1
        retry = {
            **record,
            "attempts": attempts,
            "last_status": status,
            "due": self._clock() + self._retry_base_s * 2 ** (attempts - 1),
        }
        if attempts >= MAX_ATTEMPTS:
            retry["gave_up"] = True
            log.warning(
                "gave up webhook %s for %s after %d attempts", delivery_id, event["type"], attempts
            )
        self._store.save(records=[(DELIVERY, delivery_id, retry)])
