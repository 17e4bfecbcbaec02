"""Completing PaymentIntents left in `requires_action` by a fault, once their time has come:
the buyer "passed" 3-D Secure (the charge succeeds) or "failed" it (authentication failure)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from psp_sandbox import charging
from psp_sandbox.card_outcomes import Result, outcome_for
from psp_sandbox.events import EventFactory
from psp_sandbox.store import SandboxStore


def complete_due(store: SandboxStore, factory: Callable[[], EventFactory], now: float) -> int:
    """Complete every due scheduled action; how many were completed."""
    completed = 0
    for intent_id, schedule in store.records(charging.SCHEDULE).items():
        if schedule["due"] > now:
            continue
        stored = store.intent(intent_id)
        done = charging.Confirmed()
        done.emitted.records.append((charging.SCHEDULE, intent_id, None))
        if stored is not None and stored["status"] == "requires_action":
            intent = copy.deepcopy(stored)
            card = outcome_for(intent["payment_method"] or "")
            if schedule["outcome"] == "succeed" and card is not None:
                success = charging.CardOutcome(Result.SUCCEEDED, card.brand, card.last4)
                charging.succeed(intent, success, now, factory(), done)
            else:
                charging.decline(intent, charging.AUTHENTICATION_FAILED, now, factory(), done)
            completed += 1
        # Anything else (confirmed meanwhile): just drop the schedule.
        store.save(done.objects + done.emitted.events, records=done.emitted.records)
    return completed
