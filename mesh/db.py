"""Database engines. Each service owns one PostgreSQL schema in a shared database;
its search_path is set per connection so its SQL never names the schema."""

from __future__ import annotations

import psycopg
from sqlalchemy import Numeric
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
    pool exhausted), as opposed to a statement it refused: worth retrying, not a bug."""
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    # psycopg's own classes too: a COMMIT sent through the driver's pipeline (mesh.at_commit)
    # raises them unwrapped when the server goes away mid-commit (the outcome is then unknown:
    # the caller retries with the same key, which finds the commit or redoes it).
    return isinstance(
        err,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | psycopg.OperationalError
        | psycopg.InterfaceError,
    )
