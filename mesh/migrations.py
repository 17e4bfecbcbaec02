"""Alembic migrations, one history per service, each in the service's own schema.

A service keeps its revisions in `<package>/migrations/versions/` and an `env.py`
that calls `run_env()`. There is no alembic.ini: the configuration is built here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from mesh.db import libpq_url

# Every service with a database, in the order their migrations run.
SERVICES_WITH_SCHEMA: dict[str, str] = {
    "payment_svc": "payment",
    "wallet_svc": "wallet",
    "ledger_svc": "ledger",
    "notify_svc": "notify",
    "payout_svc": "payout",
    "recon_svc": "recon",
    "gateway": "gateway",
}


def _sync_url(database_url: str) -> str:
    return libpq_url(database_url).replace("postgresql://", "postgresql+psycopg://", 1)


def alembic_config(package: str, database_url: str, schema: str) -> Config:
    module = importlib.import_module(package)
    migrations = Path(module.__file__ or "").parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = database_url
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(package: str, database_url: str) -> None:
    """Bring one service's schema to the newest revision."""
    schema = SERVICES_WITH_SCHEMA[package]
    command.upgrade(alembic_config(package, database_url, schema), "head")


def upgrade_all(database_url: str) -> None:
    """Bring every service's schema to the newest revision (idempotent)."""
    for package in SERVICES_WITH_SCHEMA:
        upgrade(package, database_url)


def behind(package: str, database_url: str) -> bool:
    """True while a service's schema is not at the newest revision this code knows: a new
    release's pods wait on this (`paymesh schema-wait`) until its migration Job has run."""
    schema = SERVICES_WITH_SCHEMA[package]
    heads = set(
        ScriptDirectory.from_config(alembic_config(package, database_url, schema)).get_heads()
    )
    engine = create_engine(_sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table_schema": schema})
            return set(context.get_current_heads()) != heads
    finally:
        engine.dispose()


def run_env(context) -> None:  # type: ignore[no-untyped-def]
    """Body of every service's migrations/env.py: online migrations in the service schema."""
    cfg = context.config
    schema = cfg.attributes["schema"]
    engine = create_engine(
        _sync_url(cfg.attributes["database_url"]),
        poolclass=pool.NullPool,
        connect_args={"options": f"-c search_path={schema},public"},
    )
    with engine.connect() as conn:
        # Created here only when nobody made it before: a schema owner (mesh.db_roles) may not
        # CREATE in the database, and PostgreSQL checks that even for IF NOT EXISTS.
        present = conn.scalar(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema})
        if not present:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.commit()
        context.configure(connection=conn, version_table_schema=schema)
        with context.begin_transaction():
            # One migration at a time per service, even when several replicas start together.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            context.run_migrations()
    engine.dispose()
