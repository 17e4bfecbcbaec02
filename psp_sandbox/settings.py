"""Sandbox settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxSettings:
    """Where the sandbox listens, where it keeps its state, which API keys it accepts, where it
    sends webhooks and how it signs them."""

    host: str = "127.0.0.1"
    port: int = 12111
    state_file: Path = Path(".paymesh/psp-sandbox.jsonl")
    api_key_prefix: str = "sk_test_"
    webhook_url: str = ""  # empty: events are recorded, nothing is sent
    # A dev-only signing secret, public on purpose; set your own to test secret rotation.
    webhook_secret: str = "whsec_paymesh_sandbox_dev"
    # The base URL buyers' browsers reach the hosted payment page on; empty: the address the
    # API client used to create the checkout session.
    public_url: str = ""
    webhook_retry_base_s: float = 1.0  # a failed webhook is retried after 1 s, 2 s, 4 s, ...
    # The event types the webhook endpoint is enabled for, as on a Stripe endpoint; empty: all.
    # Events of other types are still recorded (GET /v1/events), just not sent.
    webhook_events: frozenset[str] = frozenset()
    # The Connect endpoint: events of connected accounts (they carry `account`: payouts) go
    # there, signed with its own secret, as a Stripe endpoint created with `connect=true`;
    # empty URL: recorded, not sent. Its own enabled events (empty: all).
    connect_webhook_url: str = ""
    connect_webhook_secret: str = "whsec_paymesh_sandbox_connect_dev"
    connect_webhook_events: frozenset[str] = frozenset()
    # Payouts move pending → in_transit → paid on these delays after their creation (Stripe
    # takes days; a sandbox test does not wait); a returned one fails this long after paid.
    payout_in_transit_after_s: float = 1.0
    payout_paid_after_s: float = 2.0
    payout_return_after_s: float = 2.0
    # A report run is `pending` this long, then `succeeded` with its file (Stripe takes minutes;
    # a client must poll either way).
    report_run_after_s: float = 0.5

    @property
    def files_dir(self) -> Path:
        """Where report files' contents are kept, beside the journal."""
        return self.state_file.with_name(self.state_file.stem + "-files")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxSettings:
        """Settings from `PSP_SANDBOX_*` variables; anything unset keeps its safe default."""
        env = os.environ if environ is None else environ
        defaults = cls()
        port_text = env.get("PSP_SANDBOX_PORT", str(defaults.port))
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"PSP_SANDBOX_PORT must be an integer, got {port_text!r}") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"PSP_SANDBOX_PORT must be between 0 and 65535, got {port}")
        prefix = env.get("PSP_SANDBOX_API_KEY_PREFIX", defaults.api_key_prefix)
        if not prefix:
            # An empty prefix would accept any bearer token, even a live key pasted by mistake.
            raise ValueError("PSP_SANDBOX_API_KEY_PREFIX must not be empty")
        secret = env.get("PSP_SANDBOX_WEBHOOK_SECRET", defaults.webhook_secret)
        connect_secret = env.get(
            "PSP_SANDBOX_CONNECT_WEBHOOK_SECRET", defaults.connect_webhook_secret
        )
        for name, value in (
            ("PSP_SANDBOX_WEBHOOK_SECRET", secret),
            ("PSP_SANDBOX_CONNECT_WEBHOOK_SECRET", connect_secret),
        ):
            if not value.startswith("whsec_"):
                raise ValueError(f"{name} must start with whsec_, as Stripe's do")
        return cls(
            host=env.get("PSP_SANDBOX_HOST", defaults.host),
            port=port,
            state_file=Path(env.get("PSP_SANDBOX_STATE_FILE", str(defaults.state_file))),
            api_key_prefix=prefix,
            webhook_url=env.get("PSP_SANDBOX_WEBHOOK_URL", defaults.webhook_url),
            webhook_secret=secret,
            public_url=env.get("PSP_SANDBOX_PUBLIC_URL", defaults.public_url),
            webhook_events=_event_types(env.get("PSP_SANDBOX_WEBHOOK_EVENTS", "")),
            connect_webhook_url=env.get(
                "PSP_SANDBOX_CONNECT_WEBHOOK_URL", defaults.connect_webhook_url
            ),
            connect_webhook_secret=connect_secret,
            connect_webhook_events=_event_types(env.get("PSP_SANDBOX_CONNECT_WEBHOOK_EVENTS", "")),
            payout_in_transit_after_s=float(
                env.get("PSP_SANDBOX_PAYOUT_IN_TRANSIT_AFTER_S", defaults.payout_in_transit_after_s)
            ),
            payout_paid_after_s=float(
                env.get("PSP_SANDBOX_PAYOUT_PAID_AFTER_S", defaults.payout_paid_after_s)
            ),
            payout_return_after_s=float(
                env.get("PSP_SANDBOX_PAYOUT_RETURN_AFTER_S", defaults.payout_return_after_s)
            ),
            report_run_after_s=float(
                env.get("PSP_SANDBOX_REPORT_RUN_AFTER_S", defaults.report_run_after_s)
            ),
        )


def _event_types(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(",") if t.strip())
