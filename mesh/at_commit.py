"""Statements that ride with COMMIT: sent in one round trip with it (psycopg pipeline mode).

A row every transaction updates (a hot balance) is locked from its UPDATE to the COMMIT. Sent
apart, that span includes a network round trip and this process's wait for its turn on the
event loop; sent together, only the server's own commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

# (SQL with psycopg %(name)s placeholders, parameters)
Statement = tuple[str, Mapping[str, Any]]


async def commit_with(conn: AsyncConnection, statements: Sequence[Statement]) -> None:
    """Execute `statements` in order, then COMMIT, in one round trip; then close SQLAlchemy's
    transaction (which finds nothing left to commit). Any failure leaves nothing committed; it
    is raised as the driver's error (`psycopg.Error`), the caller's `close()` rolls back."""
    if statements:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection  # the psycopg AsyncConnection
        if driver is None:  # pragma: no cover - only after the connection was invalidated
            raise RuntimeError("database connection lost")
        async with driver.pipeline():
            for sql, params in statements:
                await driver.execute(sql, params)
            await driver.commit()
    await conn.commit()
