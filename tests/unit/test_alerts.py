"""mesh.alerts: the mesh's own checks raise what crossed its threshold, and a reporter publishes
an alert every round it holds and clears it once, the round it stops holding."""

from __future__ import annotations

from typing import Any

import pytest

from mesh.alerts import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    OUTBOX_STUCK,
    STANDARD_KINDS,
    Alert,
    AlertReporter,
    standard_alerts,
)
from mesh.events import decode_envelope, unpack
from mesh.settings import AlertThresholds
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.unit


class Published:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        observed = unpack(decode_envelope(data), events_pb2.AlertObserved)
        assert subject == "ops.alert" and headers["Nats-Msg-Id"]
        self.seen.append((observed.kind, observed.subject, observed.active))


def test_standard_alerts_fire_past_their_thresholds_only() -> None:
    limits = AlertThresholds(outbox_age_s=60, consumer_lag=100)
    quiet = standard_alerts(
        limits, schema="wallet", outbox=(5, 59.0), lag={"a": 100}, dead_letters={"a": 0}
    )
    assert quiet == []
    loud = standard_alerts(
        limits, schema="wallet", outbox=(5, 61.0), lag={"a": 101}, dead_letters={"a": 2}
    )
    assert [(a.kind, a.subject) for a in loud] == [
        (OUTBOX_STUCK, "wallet"),
        (CONSUMER_LAG, "a"),
        (DEAD_LETTERS, "a"),
    ]
    assert "61 s" in loud[0].detail and "101" in loud[1].detail and "2 dead" in loud[2].detail


async def test_an_alert_is_published_while_it_holds_and_cleared_once() -> None:
    js: Any = Published()
    reporter = AlertReporter(js, "wallet_svc")
    lag = Alert(CONSUMER_LAG, "wallet-credit", "5000 behind")
    await reporter.report(STANDARD_KINDS, [lag])
    await reporter.report(STANDARD_KINDS, [lag])
    await reporter.report(STANDARD_KINDS, [])
    await reporter.report(STANDARD_KINDS, [])
    assert js.seen == [
        (CONSUMER_LAG, "wallet-credit", True),
        (CONSUMER_LAG, "wallet-credit", True),
        (CONSUMER_LAG, "wallet-credit", False),
    ]


async def test_a_check_clears_only_the_kinds_it_covers() -> None:
    js: Any = Published()
    reporter = AlertReporter(js, "payment_svc")
    await reporter.report({"psp_breaker_open"}, [Alert("psp_breaker_open", "psp", "open")])
    await reporter.report(STANDARD_KINDS, [])  # another check: the breaker's alert stays
    assert js.seen == [("psp_breaker_open", "psp", True)]
