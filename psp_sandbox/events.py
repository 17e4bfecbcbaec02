"""Stripe Events: one per state change, each carrying a snapshot of the object it is about.

An event is stored with the change that caused it (one journal line). When a webhook URL is set,
each event also gets delivery records (fault config permitting: a dropped webhook gets none,
a duplicated one two), which the webhook sender works through.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from psp_sandbox import faults
from psp_sandbox.ids import new_id

# The API version events are rendered in; the payload shape the sandbox produces.
API_VERSION = "2026-10-28.endive"
DELIVERY = "delivery"  # record kind of a pending webhook delivery

Record = tuple[str, str, dict[str, Any] | None]


@dataclass
class Emitted:
    """Events made while handling one change, and the delivery records they need."""

    events: list[dict[str, Any]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


class EventFactory:
    def __init__(
        self,
        webhooks_enabled: bool,
        config: faults.FaultConfig,
        enabled_events: frozenset[str] = frozenset(),
        connect_enabled: bool = False,
        connect_events: frozenset[str] = frozenset(),
    ) -> None:
        self._webhooks_enabled = webhooks_enabled
        self._config = config
        self._enabled_events = enabled_events  # empty: every type
        # The Connect endpoint's, for events of connected accounts.
        self._connect_enabled = connect_enabled
        self._connect_events = connect_events

    def _delivers(self, event_type: str, account: str | None = None) -> bool:
        if account:
            enabled, types = self._connect_enabled, self._connect_events
        else:
            enabled, types = self._webhooks_enabled, self._enabled_events
        return enabled and (not types or event_type in types)

    def emit(
        self,
        emitted: Emitted,
        event_type: str,
        obj: dict[str, Any],
        now: float,
        request: dict[str, Any] | None = None,
        account: str | None = None,
    ) -> None:
        """`account`: the connected account the event happened on (a Connect event, delivered
        to the Connect endpoint); None for the platform's own."""
        event_id = new_id("evt_")
        delivers = self._delivers(event_type, account)
        plan = faults.for_webhook(self._config, event_id) if delivers else None
        copies = plan.delays_s if plan is not None else ()
        connect = {"account": account} if account else {}
        emitted.events.append(
            {
                **connect,
                "id": event_id,
                "object": "event",
                "api_version": API_VERSION,
                "created": int(now),
                # A deep copy: later changes to the object must not rewrite history.
                "data": {"object": copy.deepcopy(obj)},
                "livemode": False,
                "pending_webhooks": len(copies),
                "request": request or {"id": None, "idempotency_key": None},
                "type": event_type,
            }
        )
        for number, delay_s in enumerate(copies):
            emitted.records.append(
                (
                    DELIVERY,
                    f"{event_id}/{number}",
                    {"event": event_id, "due": now + delay_s, "attempts": 0},
                )
            )
