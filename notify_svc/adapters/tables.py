"""The tables of the `notify` schema that mesh's plumbing writes (the search_path names the
schema; SQL never does). The others are only touched by the SQL of notify_svc.adapters.sql and
defined by the migrations."""

from __future__ import annotations

from sqlalchemy import MetaData

from mesh.inbox import inbox_table
from mesh.outbox import outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
