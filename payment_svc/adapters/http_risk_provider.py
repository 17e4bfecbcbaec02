"""The remote risk provider over HTTP (domain.risk_provider.RiskProvider), with httpx.

    POST {RISK_PROVIDER_URL}   Authorization: Bearer {RISK_PROVIDER_API_KEY} (when set)
    {"checkout_id", "buyer_id", "payment_method", "orders": [{"payment_order_id", "amount",
     "currency"}]}                                  amounts as decimal strings
    200 {"id", "outcome": "allow"|"deny", "score", "reason"}

The sandbox serves it (psp_sandbox/risk_provider.py). Every call has a timeout
(RISK_PROVIDER_TIMEOUT_S); a timeout, a connection error, a 5xx or a 429 is
RiskProviderUnavailable, and so is any answer it cannot read (the provider did not decide).
A breaker (the PSP's state machine, domain.breaker) stops waiting for a provider that keeps
failing: while it is open, checkouts go to the fallback at once instead of after a timeout each.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from mesh.metrics import RISK_PROVIDER_CALLS, Children
from payment_svc.domain.breaker import CircuitBreaker, CircuitOpen
from payment_svc.domain.risk import Outcome, RiskSubject
from payment_svc.domain.risk_provider import ProviderVerdict, RiskProviderUnavailable

log = logging.getLogger(__name__)
_calls = Children(RISK_PROVIDER_CALLS)
_OUTCOMES = {"allow": Outcome.ALLOW, "deny": Outcome.DENY}


def assessment_request(subject: RiskSubject) -> dict[str, Any]:
    return {
        "checkout_id": subject.checkout_id,
        "buyer_id": subject.buyer_id,
        "payment_method": subject.payment_method,
        "orders": [
            {
                "payment_order_id": o.payment_order_id,
                "amount": str(o.amount),
                "currency": o.currency,
            }
            for o in subject.orders
        ],
    }


class HttpRiskProvider:
    def __init__(
        self,
        url: str,
        api_key: str,
        timeout_s: float,
        breaker: CircuitBreaker,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._url = url
        self._breaker = breaker
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout_s), transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def assess(self, subject: RiskSubject) -> ProviderVerdict:
        try:
            self._breaker.admit()
        except CircuitOpen:
            _calls("breaker_open").inc()
            raise RiskProviderUnavailable("the risk provider's breaker is open") from None
        try:
            verdict = await self._call(subject)
        except RiskProviderUnavailable:
            self._breaker.failed()
            raise
        except BaseException:  # cancelled: neither an answer nor a failure
            self._breaker.abandoned()
            raise
        self._breaker.succeeded()
        return verdict

    async def _call(self, subject: RiskSubject) -> ProviderVerdict:
        try:
            response = await self._client.post(self._url, json=assessment_request(subject))
        except httpx.TimeoutException:
            _calls("timeout").inc()
            raise RiskProviderUnavailable("the risk provider timed out") from None
        except httpx.HTTPError as err:
            _calls("unreachable").inc()
            raise RiskProviderUnavailable(
                f"the risk provider is unreachable ({type(err).__name__})"
            ) from None
        if response.status_code != 200:
            _calls("error").inc()
            if response.status_code < 500 and response.status_code != 429:
                # Our request or our key is wrong: an operator must look, checkouts fall back.
                log.error("the risk provider refused our request: %s", response.status_code)
            raise RiskProviderUnavailable(f"the risk provider answered {response.status_code}")
        try:
            body = response.json()
            outcome = _OUTCOMES[body["outcome"]]
        except (ValueError, KeyError, TypeError):
            _calls("error").inc()
            raise RiskProviderUnavailable("the risk provider's answer is unreadable") from None
        _calls(outcome.value).inc()
        return ProviderVerdict(
            outcome,
            reference=str(body.get("id", ""))[:100],
            score=str(body.get("score", ""))[:20],
            reason=str(body.get("reason", ""))[:200],
        )
