"""One event as the marketplace receives it (the Standard Webhooks payload shape)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

MESSAGE_ID_PREFIX = "msg_"


def message_id(source_event_id: str) -> str:
    """The webhook id of the event caused by the mesh event `source_event_id` (a UUID): the
    same on every redelivery of that event, so the marketplace can dedupe on it."""
    return MESSAGE_ID_PREFIX + uuid.UUID(source_event_id).hex


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str  # "msg_<hex>", sent as `webhook-id`
    event_type: str  # "order.succeeded"
    occurred_at: datetime  # when the change was committed in the mesh
    data: Mapping[str, object]  # JSON-able: strings (money as decimal strings), lists, maps
    source_event_id: str  # the mesh event's id (UUID)

    def body(self) -> str:
        """The JSON body, exactly as stored, signed and sent: `{"type", "timestamp", "data"}`."""
        return json.dumps(
            {
                "type": self.event_type,
                "timestamp": self.occurred_at.isoformat().replace("+00:00", "Z"),
                "data": self.data,
            },
            separators=(",", ":"),
            sort_keys=True,
        )
