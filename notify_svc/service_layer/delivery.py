"""The delivery loop: claim due deliveries, POST each (concurrently, bounded overall and per
endpoint), record the outcome, retry on the schedule, disable an endpoint that keeps failing.

Each round claims only what it has room for, and leases it in the database: a delivery whose
sender died is due again once its lease runs out (at least once). A slow endpoint holds at most
`per_endpoint` of the `concurrency` slots, so the others keep going; payments never wait on any
of it (this is another process, fed by its own consumer)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from notify_svc.domain.endpoint import DisablePolicy
from notify_svc.domain.retry import RetrySchedule
from notify_svc.service_layer.ports import DueDelivery, NotifyUnitOfWork, Sender, SendResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    schedule: RetrySchedule
    disable: DisablePolicy
    concurrency: int = 32  # POSTs in flight per process
    per_endpoint: int = 4  # of which to one endpoint
    lease_s: float = 30.0  # a claimed delivery is due again after this if not recorded


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: delivered, retry, gave_up; and whether it disabled its
    endpoint."""

    result: str
    disabled: bool = False


Observer = Callable[[DueDelivery, SendResult, Outcome], None]


class Deliverer:
    def __init__(
        self,
        uow: Callable[[], NotifyUnitOfWork],
        sender: Sender,
        policy: DeliveryPolicy,
        clock: Callable[[], datetime],
        observe: Observer | None = None,
    ) -> None:
        self.uow = uow
        self.sender = sender
        self.policy = policy
        self.clock = clock
        self.observe = observe
        self._in_flight: Counter[str] = Counter()  # endpoint id -> POSTs in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now (new events were stored)."""
        self._wake.set()

    async def run(self, idle_s: float) -> None:
        """Deliver until cancelled; look again every `idle_s`, or sooner when woken or when a
        POST ends."""
        try:
            while True:
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # the database away: the next round catches up
                    log.warning("delivery round failed: %s", err)
                try:
                    await asyncio.wait_for(self._wake.wait(), idle_s)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def round(self) -> int:
        """Claim what there is room for and start sending it; the number started."""
        room = self.policy.concurrency - len(self._tasks)
        if room <= 0:
            return 0
        busy = [e for e, n in self._in_flight.items() if n > 0]
        async with self.uow() as tx:
            due = await tx.store.claim_due(
                limit=room,
                per_endpoint=self.policy.per_endpoint,
                skip_endpoints=busy,
                lease_s=self.policy.lease_s,
                now=self.clock(),
            )
            await tx.commit()
        for delivery in due:
            self._in_flight[delivery.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(due)

    async def drain(self) -> None:
        """Wait for the POSTs in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, due: DueDelivery) -> None:
        try:
            result = await self.sender.send(due)
            outcome = await record_outcome(self.uow(), due, result, self.policy, self.clock())
            if self.observe is not None:
                self.observe(due, result, outcome)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # recorded nothing: the lease runs out and it is sent again
            log.warning("delivery of %s to %s failed: %s", due.event_id, due.endpoint_id, err)
        finally:
            self._in_flight[due.endpoint_id] -= 1
            if self._in_flight[due.endpoint_id] <= 0:
                del self._in_flight[due.endpoint_id]
            self._wake.set()  # room again


async def record_outcome(
    uow: NotifyUnitOfWork,
    due: DueDelivery,
    result: SendResult,
    policy: DeliveryPolicy,
    now: datetime,
) -> Outcome:
    """Log the attempt; settle or reschedule the delivery; count the endpoint's failures and
    disable it when they persist (DisablePolicy)."""
    async with uow as tx:
        attempt, failures = await tx.store.record_attempt(due, result, now)
        if result.delivered:
            await tx.store.settle(due, "succeeded", None)
            await tx.store.endpoint_succeeded(due.endpoint_id)
            await tx.commit()
            return Outcome("delivered")
        delay = policy.schedule.delay_after(failures)
        if delay is None:
            await tx.store.settle(due, "failed", None)
        else:
            await tx.store.settle(due, "pending", now + timedelta(seconds=delay))
        state = await tx.store.endpoint_failed(due.endpoint_id, now)
        reason = policy.disable.reason_to_disable(
            state.consecutive_failures, state.failing_since, now
        )
        disabled = bool(
            state.enabled and reason and await tx.store.disable(due.endpoint_id, reason, now)
        )
        await tx.commit()
    what = "retry" if delay is not None else "gave_up"
    log.warning(
        "webhook %s to %s: attempt %d failed (%s)%s",
        due.event_id,
        due.endpoint_id,
        attempt,
        result.error or f"HTTP {result.http_status}",
        f", retry in {delay:g} s" if delay is not None else ", retry schedule exhausted",
    )
    if disabled:
        log.error("webhook endpoint %s (%s) disabled: %s", due.endpoint_id, due.url, reason)
    return Outcome(what, disabled)
