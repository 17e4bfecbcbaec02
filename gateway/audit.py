"""The audit log of operator actions (table `gateway.audit_log`): who (the API key, or the CLI's
OS user), did what (an RPC marked `audited` in its contract, or an API-key change), on which
resource, with what outcome.

Rule: the log is append-only; a row is added, never changed or removed. Guard: the trigger
`audit_log_append_only` (gateway migration 0002) refuses UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.tables import SCHEMA, audit_log
from mesh.db import make_engine
from mesh.logs import log_fields

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0
KEY_CREATE = "api_key.create"
KEY_REVOKE = "api_key.revoke"


@dataclass(frozen=True)
class AuditEntry:
    key_id: str  # the API key that acted, or "cli:<OS user>"
    action: str  # an RPC's full name, or KEY_CREATE / KEY_REVOKE
    resource: str  # the HTTP path, or "api_keys/<key id>"
    request_id: str | None
    outcome: int  # the HTTP status of the answer


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None:
        """Append `entry`; never raises (a write that fails is logged with the whole entry)."""
        ...


def cli_actor() -> str:
    """Who acts through the operator CLI: "cli:<OS user>"."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


async def append(conn: AsyncConnection, entry: AuditEntry) -> None:
    """Append `entry` on `conn`, in the caller's transaction."""
    await conn.execute(insert(audit_log).values(**asdict(entry)))


class DbAuditLog:
    """Writes each entry in its own transaction; when the database cannot take it, the entry
    goes to the error log instead, so the action is never unrecorded."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, entry: AuditEntry) -> None:
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S), self.engine.begin() as conn:
                await append(conn, entry)
        except (SQLAlchemyError, OSError, TimeoutError) as err:
            log.error(
                "audit entry not stored (%s): %s %s by %s -> %d",
                type(err).__name__,
                entry.action,
                entry.resource,
                entry.key_id,
                entry.outcome,
                extra=log_fields(audit=asdict(entry)),
            )


async def recent_entries(database_url: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` entries, newest first."""
    engine = make_engine(database_url, SCHEMA, pool_size=1, application_name="gateway-audit")
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
    finally:
        await engine.dispose()
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in rows
    ]
