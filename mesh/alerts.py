"""Alerts: what a service's checks find that an operator must hear of, raised while it holds and
resolved when it goes away, in one shape for every service.

Every service runs checks now and then (mesh.service, with its metrics sampler): the mesh's own
(`standard_alerts`: a stuck outbox, a consumer lagging, dead letters waiting) and those its
wiring adds (the payment service: an open PSP breaker, orders and refunds the sweeper cannot
settle). Each round, what a check finds is published as `AlertObserved(active=True)` on
`ops.alert` (the OPS stream), and what it found last round but no longer finds as
`active=False`. The payment service keeps them (mesh.alert_store): first and last seen, how many
rounds, open / acknowledged / resolved. An alert is also logged (a warning when it opens, info
when it clears) and counted (mesh.metrics ALERTS_RAISED, ALERTS_ACTIVE).

Publishing straight to the stream, not through an outbox: an alert is an observation repeated
every round, so one lost while NATS is away is published again at the next round.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from nats.js import JetStreamContext

from mesh.events import new_envelope
from mesh.logs import log_fields
from mesh.metrics import ALERTS_ACTIVE, ALERTS_RAISED
from mesh.settings import AlertThresholds
from paymesh.events.v1 import events_pb2

log = logging.getLogger(__name__)

OPS_STREAM = "OPS"
ALERT_SUBJECT = "ops.alert"

OUTBOX_STUCK = "outbox_stuck"
CONSUMER_LAG = "consumer_lag"
DEAD_LETTERS = "dead_letters"
STANDARD_KINDS = frozenset({OUTBOX_STUCK, CONSUMER_LAG, DEAD_LETTERS})


@dataclass(frozen=True)
class Alert:
    kind: str  # what is wrong
    subject: str  # what it is wrong with
    detail: str  # in words, with the figure


# One check: the alerts of `kinds` that hold now (an empty list: none of them does).
Check = Callable[[], Awaitable[list[Alert]]]


@dataclass(frozen=True)
class Watch:
    """A check of a service's own, and the kinds of alert it can raise (the ones it clears)."""

    kinds: frozenset[str]
    check: Check


def standard_alerts(
    thresholds: AlertThresholds,
    *,
    schema: str,
    outbox: tuple[int, float] | None,
    lag: Mapping[str, int],
    dead_letters: Mapping[str, int],
) -> list[Alert]:
    """The mesh's own alerts from one round of samples: `outbox` (events waiting, age of the
    oldest in seconds; None when it could not be read), each consumer's lag and its dead
    letters waiting."""
    found: list[Alert] = []
    if outbox is not None:
        waiting, age_s = outbox
        if waiting and age_s > thresholds.outbox_age_s:
            found.append(
                Alert(
                    OUTBOX_STUCK,
                    schema,
                    f"{waiting} events unpublished, the oldest {age_s:.0f} s old "
                    f"(threshold {thresholds.outbox_age_s:.0f} s)",
                )
            )
    for durable, pending in lag.items():
        if pending > thresholds.consumer_lag:
            found.append(
                Alert(
                    CONSUMER_LAG,
                    durable,
                    f"{pending} messages behind (threshold {thresholds.consumer_lag})",
                )
            )
    for durable, count in dead_letters.items():
        if count > 0:
            found.append(
                Alert(DEAD_LETTERS, durable, f"{count} dead letters waiting for replay or discard")
            )
    return found


class AlertReporter:
    """Publishes a service's alerts, round after round, remembering which hold (per process:
    after a restart, an alert that went away meanwhile is resolved by the store when it has
    not been seen for a while)."""

    def __init__(self, js: JetStreamContext, service: str) -> None:
        self._js = js
        self._service = service
        self._active: dict[tuple[str, str], Alert] = {}

    async def report(self, kinds: Iterable[str], found: Iterable[Alert]) -> None:
        """Publish what holds among `kinds` now, and clear what held and no longer does."""
        kinds = frozenset(kinds)
        now = {(a.kind, a.subject): a for a in found if a.kind in kinds}
        for key, alert in now.items():
            await self._publish(alert, active=True)
            if key not in self._active:
                log.warning(
                    "alert %s on %s: %s",
                    alert.kind,
                    alert.subject,
                    alert.detail,
                    extra=log_fields(alert_kind=alert.kind, alert_subject=alert.subject),
                )
                ALERTS_RAISED.labels(alert.kind).inc()
            self._active[key] = alert
        for key, alert in list(self._active.items()):
            if key[0] in kinds and key not in now:
                await self._publish(alert, active=False)
                log.info("alert %s on %s cleared", alert.kind, alert.subject)
                del self._active[key]
        for kind in kinds:
            ALERTS_ACTIVE.labels(kind).set(sum(1 for k in self._active if k[0] == kind))

    async def _publish(self, alert: Alert, *, active: bool) -> None:
        observed = events_pb2.AlertObserved(
            kind=alert.kind,
            subject=alert.subject,
            service=self._service,
            detail=alert.detail,
            active=active,
        )
        envelope = new_envelope(ALERT_SUBJECT, f"{alert.kind}/{alert.subject}", observed)
        await self._js.publish(
            ALERT_SUBJECT,
            envelope.SerializeToString(),
            headers={"Nats-Msg-Id": str(uuid.uuid4())},
        )
