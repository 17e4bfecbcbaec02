"""Database engines. Each service owns one PostgreSQL schema in a shared database;
its search_path is set per connection so its SQL never names the schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Numeric
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# The column type of every amount of money in every schema: 38 digits, 4 after the point
# (the migrations spell it out as they were written; the tables modules use this).
MONEY = Numeric(38, 4)


def async_url(database_url: str) -> str:
    """The SQLAlchemy URL for psycopg 3, whatever scheme the operator wrote."""
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def libpq_url(database_url: str) -> str:
    """The plain libpq URL (for psycopg directly, psql and friends)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def make_engine(
    database_url: str, schema: str, *, pool_size: int = 10, application_name: str = "paymesh"
) -> AsyncEngine:
    """An async engine whose connections see `schema` first on their search_path."""
    # No pre-ping: it costs a round trip per transaction; a connection that died is discarded
    # when it fails, and the use case's transaction is retried by its caller (a gRPC retry or a
    # JetStream redelivery). Overflow is kept small so load does not churn connections.
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 4),
        pool_recycle=1800,
        connect_args={
            "options": f"-c search_path={schema},public",
            "application_name": application_name,
            "connect_timeout": 10,
        },
    )


def is_unavailable(err: BaseException) -> bool:
    """The database was out of reach (connect failure, lost connection, a server restarting,
    pool exhausted), as opposed to a statement it refused: worth retrying, not a bug. The
    driver's own errors count too: `pipelined` and mesh.at_commit raise them unwrapped."""
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(
        err,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | psycopg.OperationalError
        | psycopg.InterfaceError,
    )


# (SQL with psycopg %(name)s placeholders, parameters): written once as a constant string, so
# nothing is compiled per call and psycopg prepares it server-side after a few uses.
Statement = tuple[str, Mapping[str, Any]]


async def driver_of(conn: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under a SQLAlchemy one (same transaction)."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - only after the connection was invalidated
        raise psycopg.OperationalError("database connection lost")
    return driver  # type: ignore[no-any-return]


async def pipelined(
    conn: AsyncConnection, statements: Sequence[Statement]
) -> list[list[dict[str, Any]]]:
    """Run `statements` in order in one round trip (psycopg's pipeline mode; the
    transaction's BEGIN rides along when it is the first), inside the caller's transaction;
    the rows of each, as dicts by column name (none for a statement that returns none).
    Statements after a failing one are not run; the first failure is raised as the driver's
    error (`psycopg.Error`), and the caller's transaction must be rolled back.

    For hot paths: the statements that a use case would otherwise send one by one, when none
    of their parameters depends on an earlier one's result."""
    driver = await driver_of(conn)
    cursors = []
    async with driver.pipeline():
        for sql, params in statements:
            cursor = driver.cursor(row_factory=dict_row)
            await cursor.execute(sql, params)
            cursors.append(cursor)
    return [await c.fetchall() if c.description is not None else [] for c in cursors]
