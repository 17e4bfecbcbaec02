"""Retention: rows kept only to guard against duplicates (published outbox rows, inbox rows) or
for an audit (the PSP's events) are deleted once they are older than their period, in small
batches, by a loop every service runs (`purge_loop`, started by mesh.service).

Each batch is one short statement in its own transaction, on rows found through an index on the
time column and locked with SKIP LOCKED (replicas purging at once, or a writer, never wait on
each other); a round stops after `max_batches` so that it never runs for long.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of `table` whose `time_column` is more than `keep_s` seconds old go (a NULL time,
    like an unpublished outbox row's, never does); `key` identifies a row."""

    table: str
    time_column: str
    key: tuple[str, ...]
    keep_s: float


def outbox_rule(keep_s: float) -> RetentionRule:
    """Published outbox rows (unpublished ones have no published_at and stay)."""
    return RetentionRule("outbox", "published_at", ("id",), keep_s)


def inbox_rule(keep_s: float) -> RetentionRule:
    return RetentionRule("inbox", "processed_at", ("consumer", "event_id"), keep_s)


@dataclass(frozen=True)
class Purged:
    rows: int
    batches: int


def _delete_batch_sql(rule: RetentionRule) -> str:
    key = ", ".join(f'"{c}"' for c in rule.key)
    return (
        f'DELETE FROM "{rule.table}" WHERE ({key}) IN ('
        f'SELECT {key} FROM "{rule.table}" '
        f'WHERE "{rule.time_column}" < now() - make_interval(secs => :keep_s) '
        "LIMIT :n FOR UPDATE SKIP LOCKED)"
    )


async def purge(
    engine: AsyncEngine, rule: RetentionRule, *, batch: int, max_batches: int = 100
) -> Purged:
    """Delete `rule`'s expired rows, at most `batch` per statement and `max_batches`
    statements (the next round goes on)."""
    sql = text(_delete_batch_sql(rule))
    rows = batches = 0
    while batches < max_batches:
        async with engine.begin() as conn:
            deleted = (await conn.execute(sql, {"keep_s": rule.keep_s, "n": batch})).rowcount
        batches += 1
        rows += deleted
        if deleted < batch:
            break
    return Purged(rows, batches)


async def purge_all(engine: AsyncEngine, rules: Sequence[RetentionRule], *, batch: int) -> int:
    """One round over every rule; how many rows went."""
    total = 0
    for rule in rules:
        purged = await purge(engine, rule, batch=batch)
        if purged.rows:
            log.info(
                "retention: %d rows of %s older than %.0f s purged in %d batches",
                purged.rows,
                rule.table,
                rule.keep_s,
                purged.batches,
            )
        total += purged.rows
    return total
