"""Figures read now and then rather than counted as they happen (mesh.metrics): each durable
consumer's lag (`num_pending` of its consumer info) and what it holds unacked, and the outbox's
backlog and the age of its oldest event. Run by mesh.service for every service."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext

from mesh.dead_letters import DLQ_STREAM, DLQ_SUBJECTS, dlq_subject
from mesh.jetstream import ConsumerSpec
from mesh.metrics import CONSUMER_ACK_PENDING, CONSUMER_PENDING, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from mesh.outbox import OutboxRelay

log = logging.getLogger(__name__)

# Prometheus scrapes every 15 s or so; a sample as old as that is fresh enough.
SAMPLE_INTERVAL_S = 10.0


async def sample_consumer_lag(
    js: JetStreamContext, specs: Sequence[ConsumerSpec]
) -> dict[str, int]:
    """One sample of each consumer's lag; a consumer not created yet is left out. Returns
    the lag by durable name."""
    lag: dict[str, int] = {}
    for spec in specs:
        try:
            info = await js.consumer_info(spec.stream, spec.durable)
        except Exception as err:  # NATS restarting, consumer not there yet: next round
            log.debug("consumer info of %s failed: %s", spec.durable, err)
            continue
        CONSUMER_PENDING.labels(spec.durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(spec.durable).set(info.num_ack_pending or 0)
        lag[spec.durable] = info.num_pending or 0
    return lag


async def sample_outbox(relay: OutboxRelay, schema: str) -> tuple[int, float]:
    count, oldest_age_s = await relay.backlog()
    OUTBOX_BACKLOG.labels(schema).set(count)
    OUTBOX_OLDEST_AGE.labels(schema).set(oldest_age_s)
    return count, oldest_age_s


async def sample_dead_letters(js: JetStreamContext, durables: Sequence[str]) -> dict[str, int]:
    """Dead letters waiting per consumer (the DLQ stream's count on `dlq.<durable>`)."""
    try:
        info = await js.stream_info(DLQ_STREAM, subjects_filter=DLQ_SUBJECTS)
    except Exception as err:  # NATS restarting, no DLQ stream yet: next round
        log.debug("DLQ stream info failed: %s", err)
        return {}
    subjects = info.state.subjects or {}
    return {durable: int(subjects.get(dlq_subject(durable), 0)) for durable in durables}
