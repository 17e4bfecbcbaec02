"""Shared by every test: markers from the directory, and a real PostgreSQL and NATS per session,
started only when a test asks for them (unit tests start nothing)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from paymesh_cli.stack import EmbeddedPostgres, NatsServer, free_port

TESTS_DIR = Path(__file__).parent
MARKER_BY_DIR = {
    "unit": "unit",
    "integration": "integration",
    "e2e": "e2e",
    "chaos": "chaos",
    "browser": "browser",
    "deploy": "deploy",
}


def marker_for(path: Path) -> str | None:
    """The marker of a test file: the name of its top directory under tests/."""
    try:
        top = Path(path).resolve().relative_to(TESTS_DIR.resolve()).parts[0]
    except (ValueError, IndexError):
        return None
    return MARKER_BY_DIR.get(top)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = marker_for(item.path)
        if name and item.get_closest_marker(name) is None:
            item.add_marker(getattr(pytest.mark, name))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL for the session, on a free port, in a temporary data dir, with SCRAM
    password authentication as `paymesh dev`'s (the password is in its URLs)."""
    import secrets

    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("pg") / "data", free_port(), password=secrets.token_urlsafe(16)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One NATS with JetStream for the session, on a free port."""
    server = NatsServer(tmp_path_factory.mktemp("nats") / "store", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A fresh, empty database `t_<random>` for this test, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_server.url_for(name)
    try:
        with psycopg.connect(pg_server.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    except psycopg.Error:
        pass


@pytest.fixture
async def nats_url(nats_server: NatsServer) -> AsyncIterator[str]:
    """The session NATS, with every JetStream stream left by earlier tests deleted."""
    import nats

    nc = await nats.connect(nats_server.url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for _ in range(100):  # one page at a time until none is left
            streams = await js.streams_info()
            if not streams:
                break
            for info in streams:
                if info.config.name:
                    await js.delete_stream(info.config.name)
    finally:
        await nc.close()
    yield nats_server.url


@pytest.fixture(autouse=True)
def money_invariants_hold(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that used a database, the money invariants hold on it: ledger balanced
    per currency and per transaction, balance rows = entries, wallets = ledger, one credit and
    one ledger transaction per successful order (each check runs when its schemas exist)."""
    if (
        "database_url" not in request.fixturenames
        or request.node.get_closest_marker("breaks_invariants") is not None
    ):
        yield
        return
    # Requested here so that the database outlives this fixture's teardown.
    url = request.getfixturevalue("database_url")
    yield
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from paymesh_cli.invariants import run_checks

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever the test's loop is doing
        report = pool.submit(asyncio.run, run_checks(url)).result(timeout=60)
    assert report.ok, f"money invariants violated: {report.violations}"
