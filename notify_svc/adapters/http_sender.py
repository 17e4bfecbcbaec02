"""POSTing an event to a marketplace endpoint with httpx, signed by the Standard Webhooks
reference library (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from notify_svc.service_layer.ports import DueDelivery, Sender, SendResult

USER_AGENT = "paymesh-webhooks/1"


def signed_headers(due: DueDelivery, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: signed at `now` (each attempt is signed
    afresh, so a retry days later is not refused as stale)."""
    return {
        "webhook-id": due.event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(due.signing_secret).sign(due.event_id, now, due.body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class HttpSender(Sender):
    """One client, one connection pool, for every endpoint; redirects are not followed (an
    endpoint that moved must be registered again) and the answer's body is not read beyond
    what httpx needs."""

    def __init__(
        self,
        timeout_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.clock = clock
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            transport=transport,
            trust_env=False,  # no proxy from the environment between us and the marketplace
        )

    async def send(self, due: DueDelivery) -> SendResult:
        started = time.monotonic()
        try:
            response = await self.client.post(
                due.url, content=due.body.encode(), headers=signed_headers(due, self.clock())
            )
        except httpx.TimeoutException:
            return SendResult(0, "timeout", _ms_since(started))
        except httpx.HTTPError as err:
            return SendResult(0, f"{type(err).__name__}: {err}"[:500], _ms_since(started))
        return SendResult(response.status_code, "", _ms_since(started))

    async def close(self) -> None:
        await self.client.aclose()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
