"""The notify store on PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh.sql_uow import AtCommit, SqlUnitOfWork
from notify_svc.adapters.secret_box import SecretBox
from notify_svc.adapters.tables import outbox
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

_ENDPOINT_COLUMNS = (
    "endpoint_id, url, event_types, enabled, disabled_reason, description, created_at, disabled_at"
)

# One statement claims and leases: the UPDATE re-checks `next_attempt_at <= now` on the locked
# row, so two replicas never claim the same delivery in one lease.
_CLAIM_DUE = text(
    """
    WITH due AS (
        SELECT d.event_id, d.endpoint_id,
               row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at) AS n
          FROM webhook_deliveries d
          JOIN webhook_endpoints e ON e.endpoint_id = d.endpoint_id AND e.enabled
         WHERE d.status = 'pending' AND d.next_attempt_at <= :now
           AND NOT (d.endpoint_id = ANY(:skip))
    ), picked AS (
        SELECT event_id, endpoint_id FROM due WHERE n <= :per_endpoint LIMIT :limit
    )
    UPDATE webhook_deliveries d
       SET next_attempt_at = :lease_until, updated_at = now()
      FROM picked, webhook_endpoints e, webhook_events ev
     WHERE d.event_id = picked.event_id AND d.endpoint_id = picked.endpoint_id
       AND e.endpoint_id = d.endpoint_id AND ev.event_id = d.event_id
       AND d.status = 'pending' AND d.next_attempt_at <= :now
    RETURNING d.event_id, d.endpoint_id, ev.event_type, e.url, e.signing_secret, ev.body
    """
)


def _endpoint(row: Mapping[str, Any]) -> Endpoint:
    return Endpoint(
        endpoint_id=row["endpoint_id"],
        url=row["url"],
        event_types=tuple(row["event_types"]),
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        description=row["description"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


class SqlNotifyRepository(NotifyRepository):
    def __init__(self, conn: AsyncConnection, box: SecretBox) -> None:
        self.conn = conn
        self.box = box  # signing secrets are stored sealed, opened only to answer and to sign

    async def _rows(self, sql: str, **params: Any) -> list[Mapping[str, Any]]:
        result = await self.conn.execute(text(sql), params)
        return [dict(row) for row in result.mappings()]

    async def add_endpoint(self, endpoint: NewEndpoint) -> bool:
        rows = await self._rows(
            """
            INSERT INTO webhook_endpoints
                   (endpoint_id, url, event_types, description, signing_secret, caller,
                    request_id)
            VALUES (:endpoint_id, :url, :event_types, :description, :signing_secret, :caller,
                    CAST(:request_id AS uuid))
            ON CONFLICT DO NOTHING RETURNING 1
            """,
            endpoint_id=endpoint.endpoint_id,
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            description=endpoint.description,
            signing_secret=self.box.seal(endpoint.signing_secret, endpoint.endpoint_id),
            caller=endpoint.caller,
            request_id=endpoint.request_id,
        )
        return bool(rows)

    async def endpoint_of_request(self, caller: str, request_id: str) -> tuple[Endpoint, str]:
        rows = await self._rows(
            f"SELECT {_ENDPOINT_COLUMNS}, signing_secret FROM webhook_endpoints "
            "WHERE caller = :caller AND request_id = CAST(:request_id AS uuid)",
            caller=caller,
            request_id=request_id,
        )
        endpoint = _endpoint(rows[0])
        return endpoint, self.box.open(rows[0]["signing_secret"], endpoint.endpoint_id)

    async def endpoints(self) -> list[Endpoint]:
        rows = await self._rows(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints "
            "ORDER BY created_at DESC, endpoint_id"
        )
        return [_endpoint(r) for r in rows]

    async def endpoint(self, endpoint_id: str) -> Endpoint | None:
        rows = await self._rows(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE endpoint_id = :id",
            id=endpoint_id,
        )
        return _endpoint(rows[0]) if rows else None

    async def disable(self, endpoint_id: str, reason: str, now: datetime) -> bool:
        rows = await self._rows(
            """
            UPDATE webhook_endpoints
               SET enabled = false, disabled_reason = :reason, disabled_at = :now
             WHERE endpoint_id = :id AND enabled RETURNING 1
            """,
            id=endpoint_id,
            reason=reason,
            now=now,
        )
        return bool(rows)

    async def subscribers(self, event_type: str) -> list[str]:
        rows = await self._rows(
            "SELECT endpoint_id FROM webhook_endpoints "
            "WHERE enabled AND :type = ANY(event_types) ORDER BY endpoint_id",
            type=event_type,
        )
        return [r["endpoint_id"] for r in rows]

    async def add_event(
        self, event: WebhookEvent, endpoint_ids: Sequence[str], now: datetime
    ) -> None:
        await self.conn.execute(
            text(
                """
                INSERT INTO webhook_events (event_id, event_type, body, source_event_id,
                                            occurred_at)
                VALUES (:event_id, :event_type, :body, CAST(:source AS uuid), :occurred_at)
                """
            ),
            {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "body": event.body(),
                "source": event.source_event_id,
                "occurred_at": event.occurred_at,
            },
        )
        await self.conn.execute(
            text(
                "INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at) "
                "SELECT :event_id, unnest(CAST(:endpoints AS text[])), :now"
            ),
            {"event_id": event.event_id, "endpoints": list(endpoint_ids), "now": now},
        )

    async def event_log(self, event_id: str) -> EventLog | None:
        events = await self._rows(
            "SELECT event_type FROM webhook_events WHERE event_id = :id", id=event_id
        )
        if not events:
            return None
        deliveries = await self._rows(
            "SELECT endpoint_id, status, next_attempt_at FROM webhook_deliveries "
            "WHERE event_id = :id ORDER BY endpoint_id",
            id=event_id,
        )
        attempts = await self._rows(
            "SELECT endpoint_id, attempt, attempted_at, http_status, error, duration_ms "
            "FROM webhook_attempts WHERE event_id = :id ORDER BY endpoint_id, attempt, id",
            id=event_id,
        )
        return EventLog(
            event_id=event_id,
            event_type=events[0]["event_type"],
            deliveries=tuple(
                DeliveryLog(
                    endpoint_id=d["endpoint_id"],
                    status=d["status"],
                    next_attempt_at=d["next_attempt_at"] if d["status"] == "pending" else None,
                    attempts=tuple(
                        Attempt(
                            a["attempt"],
                            a["attempted_at"],
                            a["http_status"],
                            a["error"],
                            a["duration_ms"],
                        )
                        for a in attempts
                        if a["endpoint_id"] == d["endpoint_id"]
                    ),
                )
                for d in deliveries
            ),
        )

    async def claim_redelivery(
        self, caller: str, request_id: str, event_id: str, endpoint_id: str
    ) -> bool:
        rows = await self._rows(
            """
            INSERT INTO redeliveries (caller, request_id, event_id, endpoint_id)
            VALUES (:caller, CAST(:request_id AS uuid), :event_id, :endpoint_id)
            ON CONFLICT DO NOTHING RETURNING 1
            """,
            caller=caller,
            request_id=request_id,
            event_id=event_id,
            endpoint_id=endpoint_id,
        )
        return bool(rows)

    async def redeliver(self, event_id: str, endpoint_id: str, now: datetime) -> list[str]:
        rows = await self._rows(
            """
            UPDATE webhook_deliveries d
               SET status = 'pending', failures = 0, next_attempt_at = :now, updated_at = now()
              FROM webhook_endpoints e
             WHERE d.event_id = :event_id AND e.endpoint_id = d.endpoint_id AND e.enabled
               AND (:endpoint_id = '' OR d.endpoint_id = :endpoint_id)
            RETURNING d.endpoint_id
            """,
            event_id=event_id,
            endpoint_id=endpoint_id,
            now=now,
        )
        return [r["endpoint_id"] for r in rows]

    async def claim_due(
        self,
        *,
        limit: int,
        per_endpoint: int,
        skip_endpoints: Sequence[str],
        lease_s: float,
        now: datetime,
    ) -> list[DueDelivery]:
        result = await self.conn.execute(
            _CLAIM_DUE,
            {
                "now": now,
                "skip": list(skip_endpoints),
                "per_endpoint": per_endpoint,
                "limit": limit,
                "lease_until": now + timedelta(seconds=lease_s),
            },
        )
        return [
            DueDelivery(
                **{
                    **row,
                    "signing_secret": self.box.open(row["signing_secret"], row["endpoint_id"]),
                }
            )
            for row in result.mappings()
        ]

    async def record_attempt(
        self, due: DueDelivery, result: SendResult, at: datetime
    ) -> tuple[int, int]:
        rows = await self._rows(
            """
            UPDATE webhook_deliveries
               SET attempts = attempts + 1,
                   failures = CASE WHEN :delivered THEN 0 ELSE failures + 1 END,
                   updated_at = now()
             WHERE event_id = :event_id AND endpoint_id = :endpoint_id
            RETURNING attempts, failures
            """,
            delivered=result.delivered,
            event_id=due.event_id,
            endpoint_id=due.endpoint_id,
        )
        attempt, failures = rows[0]["attempts"], rows[0]["failures"]
        await self.conn.execute(
            text(
                """
                INSERT INTO webhook_attempts (event_id, endpoint_id, attempt, attempted_at,
                                              http_status, error, duration_ms)
                VALUES (:event_id, :endpoint_id, :attempt, :at, :http_status, :error,
                        :duration_ms)
                """
            ),
            {
                "event_id": due.event_id,
                "endpoint_id": due.endpoint_id,
                "attempt": attempt,
                "at": at,
                "http_status": result.http_status,
                "error": result.error[:500],
                "duration_ms": result.duration_ms,
            },
        )
        return attempt, failures

    async def settle(self, due: DueDelivery, status: str, next_attempt_at: datetime | None) -> None:
        await self.conn.execute(
            text(
                "UPDATE webhook_deliveries SET status = :status, next_attempt_at = :next, "
                "updated_at = now() WHERE event_id = :event_id AND endpoint_id = :endpoint_id"
            ),
            {
                "status": status,
                "next": next_attempt_at,
                "event_id": due.event_id,
                "endpoint_id": due.endpoint_id,
            },
        )

    async def endpoint_succeeded(self, endpoint_id: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL "
                "WHERE endpoint_id = :id AND consecutive_failures > 0"
            ),
            {"id": endpoint_id},
        )

    async def endpoint_failed(self, endpoint_id: str, at: datetime) -> FailureState:
        rows = await self._rows(
            """
            UPDATE webhook_endpoints
               SET consecutive_failures = consecutive_failures + 1,
                   failing_since = coalesce(failing_since, :at)
             WHERE endpoint_id = :id
            RETURNING enabled, consecutive_failures, failing_since
            """,
            id=endpoint_id,
            at=at,
        )
        return FailureState(
            rows[0]["enabled"], rows[0]["consecutive_failures"], rows[0]["failing_since"]
        )


def _no_events(event: object) -> Any:
    raise TypeError("notify_svc publishes no events")


class SqlNotifyUnitOfWork(SqlUnitOfWork[object], NotifyUnitOfWork):
    outbox_table = outbox

    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        super().__init__(engine, _no_events)
        self.box = box

    def open_repositories(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        self.store = SqlNotifyRepository(conn, self.box)
