"""The notify use cases and the delivery loop over the in-memory store and a scripted sender:
events stored once per subscriber, retries on the schedule, giving up, disabling, redelivery,
and a slow endpoint holding no more than its share of the POSTs in flight."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from notify_svc.domain.endpoint import DisablePolicy
from notify_svc.domain.retry import RetrySchedule
from notify_svc.domain.webhook_event import WebhookEvent, message_id
from notify_svc.service_layer.delivery import Deliverer, DeliveryPolicy
from notify_svc.service_layer.endpoints import CreateEndpoint, create_endpoint
from notify_svc.service_layer.events import record_event, redeliver
from notify_svc.service_layer.fakes import FakeStore
from notify_svc.service_layer.ports import DueDelivery, Sender, SendResult

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedSender(Sender):
    """Answers per URL: a list of statuses to give in order (then 200); `hold` keeps a URL's
    POSTs waiting until released. Counts the POSTs in flight per URL."""

    def __init__(self) -> None:
        self.script: dict[str, list[int]] = {}
        self.hold: dict[str, asyncio.Event] = {}
        self.sent: list[DueDelivery] = []
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()

    async def send(self, due: DueDelivery) -> SendResult:
        self.sent.append(due)
        self.in_flight[due.url] += 1
        self.most_in_flight[due.url] = max(self.most_in_flight[due.url], self.in_flight[due.url])
        try:
            if due.url in self.hold:
                await self.hold[due.url].wait()
            queued = self.script.get(due.url)
            return SendResult(queued.pop(0) if queued else 200, "", 3)
        finally:
            self.in_flight[due.url] -= 1


def policy(**overrides: object) -> DeliveryPolicy:
    base: dict[str, object] = {
        "schedule": RetrySchedule((10, 60)),
        "disable": DisablePolicy(after_failures=0, after_s=0),
        "concurrency": 8,
        "per_endpoint": 2,
    }
    base.update(overrides)
    return DeliveryPolicy(**base)  # type: ignore[arg-type]


async def endpoint(store: FakeStore, url: str, *types: str) -> str:
    made, _secret = await create_endpoint(
        store.uow(),
        CreateEndpoint("key-1", str(uuid.uuid4()), url, types or ("order.succeeded",), ""),
        allow_http_loopback=False,
    )
    return made.endpoint_id


async def event(store: FakeStore, clock: Clock, event_type: str = "order.succeeded") -> str:
    source = str(uuid.uuid4())
    made = WebhookEvent(message_id(source), event_type, clock(), {"n": source}, source)
    await record_event(store.uow(), made, clock)
    return made.event_id


async def run_rounds(deliverer: Deliverer, rounds: int = 1) -> None:
    for _ in range(rounds):
        await deliverer.round()
        await deliverer.drain()


async def status_of(store: FakeStore, event_id: str) -> list[tuple[str, list[int]]]:
    log = store.state.deliveries
    return [
        (d.status, [a.http_status for a in d.attempts])
        for (e, _), d in sorted(log.items())
        if e == event_id
    ]


async def test_an_event_is_stored_once_for_each_subscriber() -> None:
    store, clock = FakeStore(), Clock()
    await endpoint(store, "https://a.example/h", "order.succeeded")
    await endpoint(store, "https://b.example/h", "order.failed")
    source = str(uuid.uuid4())
    made = WebhookEvent(message_id(source), "order.succeeded", clock(), {}, source)

    assert await record_event(store.uow(), made, clock) == 1
    assert await record_event(store.uow(), made, clock) == 0  # the mesh event again
    assert len(store.state.deliveries) == 1


async def test_a_failure_is_retried_on_the_schedule_then_given_up() -> None:
    store, clock, sender = FakeStore(), Clock(), ScriptedSender()
    await endpoint(store, "https://a.example/h")
    sender.script["https://a.example/h"] = [500, 502, 503]
    deliverer = Deliverer(store.uow, sender, policy(), clock)
    event_id = await event(store, clock)

    await run_rounds(deliverer)
    assert await status_of(store, event_id) == [("pending", [500])]
    clock.advance(9)
    await run_rounds(deliverer)  # not due yet
    assert len(sender.sent) == 1
    clock.advance(1)
    await run_rounds(deliverer)
    clock.advance(60)
    await run_rounds(deliverer)
    assert await status_of(store, event_id) == [("failed", [500, 502, 503])]
    clock.advance(10**6)
    await run_rounds(deliverer)
    assert len(sender.sent) == 3  # given up: only a redelivery sends it again

    await redeliver(
        store.uow(),
        caller="key-1",
        request_id=str(uuid.uuid4()),
        event_id=event_id,
        endpoint_id="",
        clock=clock,
    )
    await run_rounds(deliverer)
    assert await status_of(store, event_id) == [("succeeded", [500, 502, 503, 200])]


async def test_an_endpoint_failing_for_too_long_is_disabled_and_left_alone() -> None:
    store, clock, sender = FakeStore(), Clock(), ScriptedSender()
    dead = await endpoint(store, "https://dead.example/h")
    sender.script["https://dead.example/h"] = [500] * 100
    schedule = RetrySchedule((3600,) * 100)
    deliverer = Deliverer(
        store.uow,
        sender,
        policy(schedule=schedule, disable=DisablePolicy(after_failures=0, after_s=86400)),
        clock,
    )
    await event(store, clock)
    for _ in range(25):
        await run_rounds(deliverer)
        clock.advance(3600)
    found = store.state.endpoints[dead][0]
    assert not found.enabled
    assert found.disabled_reason.startswith("failing since")
    assert len(sender.sent) == 25  # the attempt at 24 h disabled it; none after


async def test_a_slow_endpoint_holds_at_most_its_share_and_the_others_go_on() -> None:
    store, clock, sender = FakeStore(), Clock(), ScriptedSender()
    await endpoint(store, "https://slow.example/h")
    await endpoint(store, "https://fast.example/h")
    sender.hold["https://slow.example/h"] = asyncio.Event()
    deliverer = Deliverer(store.uow, sender, policy(concurrency=8, per_endpoint=2), clock)
    events = [await event(store, clock) for _ in range(6)]

    for _ in range(6):
        await deliverer.round()
        await asyncio.sleep(0)
    fast = [d for d in sender.sent if d.url == "https://fast.example/h"]
    assert len(fast) == 6  # every event reached the fast endpoint meanwhile
    assert sender.most_in_flight["https://slow.example/h"] == 2

    sender.hold["https://slow.example/h"].set()
    await deliverer.drain()
    for _ in range(3):
        await run_rounds(deliverer)
    for event_id in events:
        assert [s for s, _ in await status_of(store, event_id)] == ["succeeded", "succeeded"]
    assert sender.most_in_flight["https://slow.example/h"] == 2
