"""The PayoutProvider port over Stripe Connect, with the official stripe SDK (async): a
Transfer from the platform to the seller's connected account, then a Payout on that account
(`stripe_account` option) to its bank. It drives real Stripe and the sandbox PSP alike. Both
calls carry idempotency keys derived from the payout id and the payout id in their metadata, so
a retry never pays twice and a lost answer is found again (`find`). The SDK's own retries are
off: the payout service retries, with the same keys."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import stripe

from mesh.money import to_minor_units
from payout_svc.domain import (
    PayoutProvider,
    ProviderPayout,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
)

_LIST_LIMIT = 100


def provider_error(exc: stripe.StripeError) -> Exception:
    """ProviderRefused when the request can never succeed as sent (an invalid account, not
    enough platform balance), ProviderUnavailable when its outcome is unknown."""
    summary = f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message}"
    if exc.code == "idempotency_key_in_use":
        return ProviderUnavailable(summary)
    if isinstance(
        exc, stripe.InvalidRequestError | stripe.AuthenticationError | stripe.PermissionError
    ):
        # The SDK leaves `code` unset on a 403 (PermissionError): read it from the body.
        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        error = body.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        return ProviderRefused(exc.code or code or summary)
    return ProviderUnavailable(summary)


def _seen(payout: Any) -> ProviderPayout:
    status = ProviderStatus(payout.status)
    failure = (payout.failure_code or "") if status is ProviderStatus.FAILED else ""
    return ProviderPayout(payout.id, status, failure)


class StripePayoutProvider(PayoutProvider):
    def __init__(self, api_key: str, api_base: str, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=0,
            http_client=self._http,
        )

    async def _call(self, call: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except TimeoutError as exc:
            raise ProviderUnavailable(f"no answer within {self._timeout_s} s") from exc
        except stripe.StripeError as exc:
            raise provider_error(exc) from exc

    async def pay(
        self, payout_id: str, destination: str, amount: Decimal, currency: str
    ) -> ProviderPayout:
        minor = to_minor_units(amount, currency)
        metadata = {"payout_id": payout_id}
        await self._call(
            self._client.v1.transfers.create_async(
                {
                    "amount": minor,
                    "currency": currency.lower(),
                    "destination": destination,
                    "metadata": metadata,
                },
                {"idempotency_key": f"{payout_id}-transfer"},
            )
        )
        payout = await self._call(
            self._client.v1.payouts.create_async(
                {"amount": minor, "currency": currency.lower(), "metadata": metadata},
                {"idempotency_key": payout_id, "stripe_account": destination},
            )
        )
        return _seen(payout)

    async def find(self, payout_id: str, destination: str) -> ProviderPayout | None:
        page = await self._call(
            self._client.v1.payouts.list_async(
                {"limit": _LIST_LIMIT}, {"stripe_account": destination}
            )
        )
        for payout in page.data:
            if (payout.metadata.to_dict() if payout.metadata else {}).get("payout_id") == payout_id:
                return _seen(payout)
        return None

    async def aclose(self) -> None:
        await self._http.close_async()


async def list_payouts_by_id(
    api_key: str, api_base: str, destinations: list[str]
) -> dict[str, list[tuple[str, int, str]]]:
    """Every payout on the given connected accounts by paymesh payout id (its metadata):
    [(status, minor units, currency)] (`paymesh check` compares them with ours)."""
    provider = StripePayoutProvider(api_key, api_base)
    found: dict[str, list[tuple[str, int, str]]] = {}
    try:
        for destination in destinations:
            try:
                page = await provider._call(
                    provider._client.v1.payouts.list_async(
                        {"limit": _LIST_LIMIT}, {"stripe_account": destination}
                    )
                )
            except ProviderRefused:
                # An account the provider does not know (a destination set but never paid
                # to) holds no payouts: any of ours on it shows up as missing there.
                continue
            for payout in page.data:
                payout_id = (payout.metadata.to_dict() if payout.metadata else {}).get("payout_id")
                if payout_id:
                    found.setdefault(payout_id, []).append(
                        (payout.status, payout.amount, payout.currency)
                    )
    finally:
        await provider.aclose()
    return found
