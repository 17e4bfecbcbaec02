"""notify_svc's own alert (mesh.alerts Watch, checked every round with the mesh's):
`webhook_endpoint_disabled` (subject: the endpoint id) for each marketplace endpoint that
delivery disabled after persistent failure (service_layer.delivery's DisablePolicy). Events for
it are no longer sent, so someone must fix the receiver and re-register or redeliver: the
on-call engineer is told, not only the log. An endpoint disabled by hand (DisableWebhookEndpoint)
is an operator's decision and raises nothing. The alert clears when the endpoint is enabled
again or deleted."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.alerts import Alert, Watch
from notify_svc.service_layer.endpoints import DISABLED_BY_HAND

ENDPOINT_DISABLED = "webhook_endpoint_disabled"
MAX_ENDPOINTS = 50  # alerts per round: enough to act on, bounded

_DISABLED = text(
    """
    SELECT endpoint_id, url, disabled_reason, disabled_at
      FROM webhook_endpoints
     WHERE NOT enabled AND disabled_reason <> :by_hand
     ORDER BY disabled_at DESC NULLS LAST
     LIMIT :limit
    """
)


def endpoint_watch(engine: AsyncEngine) -> Watch:
    async def check() -> list[Alert]:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(_DISABLED, {"by_hand": DISABLED_BY_HAND, "limit": MAX_ENDPOINTS})
            ).all()
        return [
            Alert(
                ENDPOINT_DISABLED,
                endpoint_id,
                f"marketplace webhook endpoint {url} disabled"
                f"{f' at {at:%Y-%m-%d %H:%M} UTC' if at else ''}: {reason};"
                " its events are no longer sent until it is fixed and registered again",
            )
            for endpoint_id, url, reason, at in rows
        ]

    return Watch(frozenset({ENDPOINT_DISABLED}), check)
