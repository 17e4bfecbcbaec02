"""The tables of the `recon` schema (the search_path names it; SQL never does)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from mesh.inbox import inbox_table
from mesh.outbox import outbox_table

metadata = MetaData()
TS = DateTime(timezone=True)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("period", Date, nullable=False),
    Column("source", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("started_by", Text, nullable=False),
    Column("caller", Text, nullable=False, server_default=""),
    Column("request_id", UUID(as_uuid=False)),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("report", JSONB, nullable=False, server_default="{}"),
    Column("error", Text, nullable=False, server_default=""),
    Column("progress", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
)

mismatches = Table(
    "mismatches",
    metadata,
    Column("mismatch_id", Text, primary_key=True),
    Column("key", Text, nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("class", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("period", Date, nullable=False),
    Column("first_run_id", Text, nullable=False),
    Column("last_run_id", Text, nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("suggested_action", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("fix_rule", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
)

resolutions = Table(
    "resolutions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("mismatch_id", Text, nullable=False),
    Column("request_id", UUID(as_uuid=False), nullable=False),
    Column("action", Text, nullable=False),
    Column("resolved_by", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("resolved_at", TS, nullable=False),
)

fixes = Table(
    "fixes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("mismatch_id", Text),  # NULL for a run's own fix (migration 0002)
    Column("run_id", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("fixed_at", TS, nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
