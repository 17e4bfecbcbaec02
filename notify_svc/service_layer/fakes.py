"""An in-memory notify store, written against the same ports as the SQL one, so the use cases
and the delivery loop are tested without a database. Changes are staged and become visible
only on commit; a claim leases rows as the SQL claim does."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from notify_svc.domain.webhook_event import WebhookEvent
from notify_svc.service_layer.ports import (
    Attempt,
    DeliveryLog,
    DueDelivery,
    Endpoint,
    EventLog,
    FailureState,
    NewEndpoint,
    NotifyRepository,
    NotifyUnitOfWork,
    SendResult,
)


@dataclass
class FakeDelivery:
    status: str = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    failures: int = 0
    next_attempt_at: datetime | None = None


@dataclass
class FakeState:
    endpoints: dict[str, tuple[Endpoint, NewEndpoint]] = field(default_factory=dict)
    failures: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)
    events: dict[str, WebhookEvent] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], FakeDelivery] = field(default_factory=dict)
    redeliveries: set[tuple[str, str]] = field(default_factory=set)
    inbox: set[tuple[str, str]] = field(default_factory=set)


class FakeNotifyRepository(NotifyRepository):
    def __init__(self, state: FakeState) -> None:
        self.s = state

    async def add_endpoint(self, endpoint: NewEndpoint) -> bool:
        taken = any(
            (n.caller, n.request_id) == (endpoint.caller, endpoint.request_id)
            for _, n in self.s.endpoints.values()
        )
        if taken:
            return False
        stored = Endpoint(
            endpoint.endpoint_id,
            endpoint.url,
            endpoint.event_types,
            True,
            "",
            endpoint.description,
            datetime.now().astimezone(),
            None,
        )
        self.s.endpoints[endpoint.endpoint_id] = (stored, endpoint)
        return True

    async def endpoint_of_request(self, caller: str, request_id: str) -> tuple[Endpoint, str]:
        return next(
            (e, n.signing_secret)
            for e, n in self.s.endpoints.values()
            if (n.caller, n.request_id) == (caller, request_id)
        )

    async def endpoints(self) -> list[Endpoint]:
        return [e for e, _ in reversed(self.s.endpoints.values())]

    async def endpoint(self, endpoint_id: str) -> Endpoint | None:
        found = self.s.endpoints.get(endpoint_id)
        return found[0] if found else None

    async def disable(self, endpoint_id: str, reason: str, now: datetime) -> bool:
        found = self.s.endpoints.get(endpoint_id)
        if found is None or not found[0].enabled:
            return False
        disabled = replace(found[0], enabled=False, disabled_reason=reason, disabled_at=now)
        self.s.endpoints[endpoint_id] = (disabled, found[1])
        return True

    async def subscribers(self, event_type: str) -> list[str]:
        return sorted(
            e.endpoint_id
            for e, _ in self.s.endpoints.values()
            if e.enabled and event_type in e.event_types
        )

    async def add_event(
        self, event: WebhookEvent, endpoint_ids: Sequence[str], now: datetime
    ) -> None:
        self.s.events[event.event_id] = event
        for endpoint_id in endpoint_ids:
            self.s.deliveries[(event.event_id, endpoint_id)] = FakeDelivery(next_attempt_at=now)

    async def event_log(self, event_id: str) -> EventLog | None:
        event = self.s.events.get(event_id)
        if event is None:
            return None
        return EventLog(
            event_id,
            event.event_type,
            tuple(
                DeliveryLog(
                    endpoint,
                    d.status,
                    d.next_attempt_at if d.status == "pending" else None,
                    tuple(d.attempts),
                )
                for (e, endpoint), d in sorted(self.s.deliveries.items())
                if e == event_id
            ),
        )

    async def claim_redelivery(
        self, caller: str, request_id: str, event_id: str, endpoint_id: str
    ) -> bool:
        if (caller, request_id) in self.s.redeliveries:
            return False
        self.s.redeliveries.add((caller, request_id))
        return True

    async def redeliver(self, event_id: str, endpoint_id: str, now: datetime) -> list[str]:
        done = []
        for (e, endpoint), d in sorted(self.s.deliveries.items()):
            enabled = self.s.endpoints[endpoint][0].enabled
            if e == event_id and enabled and endpoint_id in ("", endpoint):
                d.status, d.failures, d.next_attempt_at = "pending", 0, now
                done.append(endpoint)
        return done

    async def claim_due(
        self,
        *,
        limit: int,
        per_endpoint: int,
        skip_endpoints: Sequence[str],
        lease_s: float,
        now: datetime,
    ) -> list[DueDelivery]:
        claimed: list[DueDelivery] = []
        taken: dict[str, int] = {}
        for (event_id, endpoint_id), d in self.s.deliveries.items():
            endpoint, new = self.s.endpoints[endpoint_id]
            due = d.next_attempt_at is not None and d.next_attempt_at <= now
            if not (d.status == "pending" and due and endpoint.enabled):
                continue
            if endpoint_id in skip_endpoints or taken.get(endpoint_id, 0) >= per_endpoint:
                continue
            if len(claimed) >= limit:
                break
            taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
            d.next_attempt_at = now + timedelta(seconds=lease_s)
            event = self.s.events[event_id]
            claimed.append(
                DueDelivery(
                    event_id,
                    endpoint_id,
                    event.event_type,
                    endpoint.url,
                    new.signing_secret,
                    event.body(),
                )
            )
        return claimed

    async def record_attempt(
        self, due: DueDelivery, result: SendResult, at: datetime
    ) -> tuple[int, int]:
        d = self.s.deliveries[(due.event_id, due.endpoint_id)]
        d.failures = 0 if result.delivered else d.failures + 1
        d.attempts.append(
            Attempt(len(d.attempts) + 1, at, result.http_status, result.error, result.duration_ms)
        )
        return len(d.attempts), d.failures

    async def settle(self, due: DueDelivery, status: str, next_attempt_at: datetime | None) -> None:
        d = self.s.deliveries[(due.event_id, due.endpoint_id)]
        d.status, d.next_attempt_at = status, next_attempt_at

    async def endpoint_succeeded(self, endpoint_id: str) -> None:
        self.s.failures.pop(endpoint_id, None)

    async def endpoint_failed(self, endpoint_id: str, at: datetime) -> FailureState:
        count, since = self.s.failures.get(endpoint_id, (0, None))
        self.s.failures[endpoint_id] = (count + 1, since or at)
        return FailureState(self.s.endpoints[endpoint_id][0].enabled, count + 1, since or at)


class FakeNotifyUnitOfWork(NotifyUnitOfWork):
    """Works on a copy of the shared state; `commit` makes the copy the state. Transactions
    run one at a time (as if serializable)."""

    def __init__(self, shared: FakeStore) -> None:
        self.shared = shared
        self._staged: FakeState | None = None

    async def begin(self) -> None:
        await self.shared.lock.acquire()
        self._staged = copy.deepcopy(self.shared.state)
        self.store = FakeNotifyRepository(self._staged)

    async def close(self) -> None:
        if self._staged is not None:
            self._staged = None
            self.shared.lock.release()

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        assert self._staged is not None
        if (consumer, event_id) in self._staged.inbox:
            return False
        self._staged.inbox.add((consumer, event_id))
        return True

    async def publish(self, event: object) -> None:
        raise TypeError("notify_svc publishes no events")

    async def commit(self) -> None:
        assert self._staged is not None
        self.shared.state = self._staged
        self.shared.commits += 1


@dataclass
class FakeStore:
    state: FakeState = field(default_factory=FakeState)
    commits: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def uow(self) -> FakeNotifyUnitOfWork:
        return FakeNotifyUnitOfWork(self)
