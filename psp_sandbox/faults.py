"""Fault injection: what goes wrong with a request, decided reproducibly from a seed.

Two sources, checked in this order:
- per-payment test tokens (`pm_card_sandbox_*`), whatever the config says: a test names the
  fault it wants on one payment;
- the per-run config set through `POST /_sandbox/faults`: each fault has a rate, and whether a
  request gets it is drawn from a generator seeded by (seed, endpoint, idempotency key, attempt).
  The same seed and the same requests give the same faults whatever the order they arrive in;
  a retry (next attempt of a key) gets a fresh draw, so a transient fault can clear.

Rates are probabilities in [0, 1]; durations are milliseconds. Pure: no I/O.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from psp_sandbox.errors import invalid_request

# Declines a random `decline` fault picks from, with Stripe's error code for each.
DECLINE_CODES: dict[str, tuple[str, str]] = {
    "generic_decline": ("card_declined", "Your card was declined."),
    "insufficient_funds": ("card_declined", "Your card has insufficient funds."),
    "lost_card": ("card_declined", "Your card was declined."),
    "stolen_card": ("card_declined", "Your card was declined."),
    "fraudulent": ("card_declined", "Your card was declined."),
    "expired_card": ("expired_card", "Your card has expired."),
    "incorrect_cvc": ("incorrect_cvc", "Your card's security code is incorrect."),
    "processing_error": (
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}

# Sandbox-only tokens, each charging like pm_card_visa apart from its fault. "Once" faults hit
# the first attempt of an idempotency key (every attempt when there is no key), so a client
# that retries with the same key can be seen to recover.
SLOW = "pm_card_sandbox_slow"
SERVER_ERROR_ONCE = "pm_card_sandbox_serverErrorOnce"
TIMEOUT_ONCE = "pm_card_sandbox_timeoutOnce"
LOST_RESPONSE_ONCE = "pm_card_sandbox_lostResponseOnce"
ACTION_THEN_SUCCEEDS = "pm_card_sandbox_threeDSecureSucceedsLater"
ACTION_THEN_FAILS = "pm_card_sandbox_threeDSecureFailsLater"
FAULT_TOKENS = frozenset(
    {
        SLOW,
        SERVER_ERROR_ONCE,
        TIMEOUT_ONCE,
        LOST_RESPONSE_ONCE,
        ACTION_THEN_SUCCEEDS,
        ACTION_THEN_FAILS,
    }
)


@dataclass(frozen=True)
class FaultConfig:
    """The per-run fault config; every rate 0 (no faults) by default."""

    seed: int = 0
    # On charges (creating a confirmed PaymentIntent, confirming one) and refunds:
    server_error_rate: float = 0.0  # a 500 before anything happens; a retry is safe
    # > 0: that server error is a 503 with Retry-After (whole seconds, rounded up), as Stripe's
    # 503 and 429 may carry.
    server_error_retry_after_ms: int = 0
    timeout_rate: float = 0.0  # no answer for timeout_ms, then a 500; nothing happens
    timeout_ms: int = 15_000  # longer than paymesh's PSP_TIMEOUT_S (10 s)
    lost_response_rate: float = 0.0  # the charge is made and stored, then the answer is lost
    lost_response_mode: str = "disconnect"  # "disconnect" (connection cut) or "server_error"
    slow_rate: float = 0.0  # the right answer, slow_ms late
    slow_ms: int = 2_000
    # On charges only, replacing a success:
    decline_rate: float = 0.0
    decline_codes: tuple[str, ...] = tuple(DECLINE_CODES)
    requires_action_rate: float = 0.0  # requires_action, completed after requires_action_after_ms
    requires_action_outcome: str = "succeed"  # "succeed" or "fail"
    requires_action_after_ms: int = 2_000
    # On webhook deliveries:
    webhook_drop_rate: float = 0.0  # never sent
    webhook_duplicate_rate: float = 0.0  # sent twice
    webhook_delay_rate: float = 0.0  # sent webhook_delay_ms late
    webhook_delay_ms: int = 5_000
    webhook_reorder_rate: float = 0.0  # held back a random part of webhook_delay_ms, so later
    # events overtake it

    @classmethod
    def from_json(cls, body: Any) -> FaultConfig:
        """A config from the admin API's JSON body; a 400 naming the first bad field."""
        if not isinstance(body, dict):
            raise invalid_request("The fault config must be a JSON object.")
        known = {field.name: field for field in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name not in known:
                raise invalid_request(f"Unknown fault setting: {name}", param=name)
            values[name] = _checked(name, value)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["decline_codes"] = list(self.decline_codes)
        return body


def _checked(name: str, value: Any) -> Any:
    if name.endswith("_rate"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise invalid_request(f"{name} must be a number between 0 and 1.", param=name)
        return float(value)
    if name.endswith("_ms") or name == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise invalid_request(f"{name} must be a non-negative integer.", param=name)
        return value
    if name == "decline_codes":
        if (
            not isinstance(value, list)
            or not value
            or any(code not in DECLINE_CODES for code in value)
        ):
            raise invalid_request(
                f"decline_codes must be a non-empty list of: {', '.join(DECLINE_CODES)}.",
                param=name,
            )
        return tuple(value)
    choices = {
        "lost_response_mode": ("disconnect", "server_error"),
        "requires_action_outcome": ("succeed", "fail"),
    }[name]
    if value not in choices:
        raise invalid_request(f"{name} must be one of: {', '.join(choices)}.", param=name)
    return value


@dataclass(frozen=True)
class RequestFaults:
    """What happens to one request. Empty (no fault) by default."""

    delay_s: float = 0.0  # answer this late
    hang_s: float = 0.0  # timeout: answer nothing this long, then a 500, doing nothing
    server_error: bool = False  # 500 at once, doing nothing
    lose_response: str = ""  # "disconnect" or "server_error" after the change is stored
    decline_code: str = ""  # decline instead of charging (a key of DECLINE_CODES)
    requires_action: str = ""  # "succeed" or "fail": requires_action, completed later
    action_after_s: float = 0.0

    @property
    def fails_before_acting(self) -> bool:
        return self.server_error or self.hang_s > 0


def for_request(
    config: FaultConfig, endpoint: str, key: str, attempt: int, payment_method: str | None
) -> RequestFaults:
    """The faults of one attempt at a mutating request (`endpoint` e.g. "POST /v1/refunds")."""
    first = attempt == 1
    after_s = config.requires_action_after_ms / 1000
    if payment_method == SLOW:
        return RequestFaults(delay_s=config.slow_ms / 1000)
    if payment_method == SERVER_ERROR_ONCE and first:
        return RequestFaults(server_error=True)
    if payment_method == TIMEOUT_ONCE and first:
        return RequestFaults(hang_s=config.timeout_ms / 1000)
    if payment_method == LOST_RESPONSE_ONCE and first:
        return RequestFaults(lose_response=config.lost_response_mode)
    if payment_method == ACTION_THEN_SUCCEEDS:
        return RequestFaults(requires_action="succeed", action_after_s=after_s)
    if payment_method == ACTION_THEN_FAILS:
        return RequestFaults(requires_action="fail", action_after_s=after_s)

    # One generator per (seed, endpoint, key, attempt): reproducible whatever the arrival order.
    # Every draw is made whether it is used or not, so one rate never shifts another's draws.
    rng = random.Random(f"{config.seed}|{endpoint}|{key}|{attempt}")
    draws = {name: rng.random() for name in ("timeout", "error", "lost", "slow", "decline", "3ds")}
    decline_pick = rng.choice(config.decline_codes)
    delay_s = config.slow_ms / 1000 if draws["slow"] < config.slow_rate else 0.0
    if draws["timeout"] < config.timeout_rate:
        return RequestFaults(hang_s=config.timeout_ms / 1000)
    if draws["error"] < config.server_error_rate:
        return RequestFaults(server_error=True)
    charging = endpoint.startswith("POST /v1/payment_intents")
    return RequestFaults(
        delay_s=delay_s,
        lose_response=config.lost_response_mode
        if draws["lost"] < config.lost_response_rate
        else "",
        decline_code=decline_pick if charging and draws["decline"] < config.decline_rate else "",
        requires_action=(
            config.requires_action_outcome
            if charging and draws["3ds"] < config.requires_action_rate
            else ""
        ),
        action_after_s=after_s,
    )


@dataclass(frozen=True)
class DeliveryPlan:
    """When each copy of one event's webhook is first sent, in seconds from now; empty: dropped."""

    delays_s: tuple[float, ...]


def for_webhook(config: FaultConfig, event_id: str) -> DeliveryPlan:
    rng = random.Random(f"{config.seed}|webhook|{event_id}")
    drop, duplicate, delay, reorder, hold = (rng.random() for _ in range(5))
    if drop < config.webhook_drop_rate:
        return DeliveryPlan(())
    first = 0.0
    if delay < config.webhook_delay_rate:
        first = config.webhook_delay_ms / 1000
    elif reorder < config.webhook_reorder_rate:
        first = hold * config.webhook_delay_ms / 1000
    if duplicate < config.webhook_duplicate_rate:
        return DeliveryPlan((first, first + 0.05))
    return DeliveryPlan((first,))
