"""The ports the notify use cases talk to: the store of endpoints, events and deliveries (in a
unit of work) and the sender that POSTs one signed event."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mesh.uow import UnitOfWork
from notify_svc.domain.webhook_event import WebhookEvent


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str
    description: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class NewEndpoint:
    endpoint_id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    signing_secret: str
    caller: str
    request_id: str


@dataclass(frozen=True)
class Attempt:
    attempt: int
    attempted_at: datetime
    http_status: int  # 0: no answer
    error: str
    duration_ms: int


@dataclass(frozen=True)
class DeliveryLog:
    endpoint_id: str
    status: str  # pending | succeeded | failed
    next_attempt_at: datetime | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class EventLog:
    event_id: str
    event_type: str
    deliveries: tuple[DeliveryLog, ...]


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for sending (leased: due again later if nobody records it)."""

    event_id: str
    endpoint_id: str
    event_type: str
    url: str
    signing_secret: str
    body: str


@dataclass(frozen=True)
class SendResult:
    http_status: int  # 0 when there was no answer
    error: str  # why there was no answer, else ""
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return 200 <= self.http_status < 300


@dataclass(frozen=True)
class FailureState:
    """An endpoint's failures, after recording one more."""

    enabled: bool
    consecutive_failures: int
    failing_since: datetime | None


class NotifyRepository(abc.ABC):
    @abc.abstractmethod
    async def add_endpoint(self, endpoint: NewEndpoint) -> bool:
        """False (nothing written) when the caller used its request id before."""

    @abc.abstractmethod
    async def endpoint_of_request(self, caller: str, request_id: str) -> tuple[Endpoint, str]:
        """The endpoint a request created, and its signing secret."""

    @abc.abstractmethod
    async def endpoints(self) -> list[Endpoint]:
        """Every endpoint, newest first."""

    @abc.abstractmethod
    async def endpoint(self, endpoint_id: str) -> Endpoint | None: ...

    @abc.abstractmethod
    async def disable(self, endpoint_id: str, reason: str, now: datetime) -> bool:
        """Disable it if it is enabled; False when it was not (or does not exist)."""

    @abc.abstractmethod
    async def subscribers(self, event_type: str) -> list[str]:
        """The enabled endpoints that take `event_type`."""

    @abc.abstractmethod
    async def add_event(
        self, event: WebhookEvent, endpoint_ids: Sequence[str], now: datetime
    ) -> None:
        """Store the event and one delivery per endpoint, due now."""

    @abc.abstractmethod
    async def event_log(self, event_id: str) -> EventLog | None: ...

    @abc.abstractmethod
    async def claim_redelivery(
        self, caller: str, request_id: str, event_id: str, endpoint_id: str
    ) -> bool:
        """False when the caller used this request id before (the redelivery was done)."""

    @abc.abstractmethod
    async def redeliver(self, event_id: str, endpoint_id: str, now: datetime) -> list[str]:
        """Make the event's deliveries to enabled endpoints (or only `endpoint_id`) pending and
        due now, with a fresh retry schedule; the endpoints so scheduled."""

    @abc.abstractmethod
    async def claim_due(
        self,
        *,
        limit: int,
        per_endpoint: int,
        skip_endpoints: Sequence[str],
        lease_s: float,
        now: datetime,
    ) -> list[DueDelivery]:
        """Up to `limit` due deliveries to enabled endpoints, at most `per_endpoint` per
        endpoint, none to `skip_endpoints`; each leased (not due again) for `lease_s`."""

    @abc.abstractmethod
    async def record_attempt(
        self, due: DueDelivery, result: SendResult, at: datetime
    ) -> tuple[int, int]:
        """Log the attempt and count it on the delivery: (attempt number, failures in a row
        of this delivery, 0 after a success)."""

    @abc.abstractmethod
    async def settle(self, due: DueDelivery, status: str, next_attempt_at: datetime | None) -> None:
        """Set the delivery's status (and when it is due again, while pending)."""

    @abc.abstractmethod
    async def endpoint_succeeded(self, endpoint_id: str) -> None:
        """Forget the endpoint's failures."""

    @abc.abstractmethod
    async def endpoint_failed(self, endpoint_id: str, at: datetime) -> FailureState:
        """Count one more failure of the endpoint."""


class NotifyUnitOfWork(UnitOfWork[object]):
    """One database transaction over the notify schema."""

    store: NotifyRepository


class Sender(abc.ABC):
    """POSTs one event to one endpoint, signed; never raises for what the endpoint did."""

    @abc.abstractmethod
    async def send(self, due: DueDelivery) -> SendResult: ...
