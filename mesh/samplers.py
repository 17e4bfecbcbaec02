"""Figures read now and then rather than counted as they happen (mesh.metrics): each durable
consumer's lag (`num_pending` of its consumer info) and what it holds unacked, and the outbox's
backlog and the age of its oldest event. Run by mesh.service for every service."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext

from mesh.jetstream import ConsumerSpec
from mesh.metrics import CONSUMER_ACK_PENDING, CONSUMER_PENDING, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from mesh.outbox import OutboxRelay

log = logging.getLogger(__name__)

# Prometheus scrapes every 15 s or so; a sample as old as that is fresh enough.
SAMPLE_INTERVAL_S = 10.0


async def sample_consumer_lag(js: JetStreamContext, specs: Sequence[ConsumerSpec]) -> None:
    """One sample of each consumer's lag; a consumer not created yet is left out."""
    for spec in specs:
        try:
            info = await js.consumer_info(spec.stream, spec.durable)
        except Exception as err:  # NATS restarting, consumer not there yet: next round
            log.debug("consumer info of %s failed: %s", spec.durable, err)
            continue
        CONSUMER_PENDING.labels(spec.durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(spec.durable).set(info.num_ack_pending or 0)


async def sample_outbox(relay: OutboxRelay, schema: str) -> None:
    count, oldest_age_s = await relay.backlog()
    OUTBOX_BACKLOG.labels(schema).set(count)
    OUTBOX_OLDEST_AGE.labels(schema).set(oldest_age_s)
