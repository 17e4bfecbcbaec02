"""Shared by every test: markers from the directory, and a real PostgreSQL and NATS per session,
started only when a test asks for them (unit tests start nothing)."""

from __future__ import annotations

import atexit
import faulthandler
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from nats_streams import delete_streams

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


# Once pytest has reported, the process has this long to exit before it is ended.
EXIT_GRACE_S = 60.0
_exit_status = [1]  # until pytest says otherwise


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status[0] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The run is over and reported; what can still hold the process is a thread someone left
    running (a pool's worker, a non-daemon thread), which Python waits for at exit without
    limit. A watchdog prints what still runs and ends the process with pytest's own status.
    Only when pytest is the program: a tool that runs pytest inside itself (mutmut) goes on."""
    program = Path(sys.argv[0])
    if program.name not in ("pytest", "py.test") and program.parent.name != "pytest":
        return

    def watchdog() -> None:
        time.sleep(EXIT_GRACE_S)
        sys.stderr.write(
            f"\npytest: the run ended {EXIT_GRACE_S:.0f} s ago but the process is still held; "
            "the stacks of its threads:\n"
        )
        faulthandler.dump_traceback(all_threads=True)
        os._exit(_exit_status[0])

    threading.Thread(target=watchdog, name="exit-watchdog", daemon=True).start()


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
    # Stopped at exit too, should the session end without tearing down (an interrupt between
    # two fixtures); a session killed outright takes it along (parent-death signal).
    atexit.register(server.stop)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One NATS with JetStream for the session, on a free port."""
    server = NatsServer(tmp_path_factory.mktemp("nats") / "store", free_port())
    atexit.register(server.stop)
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
    await delete_streams(nats_server.url)
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

    from paymesh_cli.invariants import run_checks

    # A loop of its own, whatever the test's loop is doing, in a daemon thread: if the checks
    # hang (a lock a failed test left held), the test fails after 60 s and nothing waits for
    # the thread, neither this fixture nor the interpreter at exit (a pool would: its shutdown
    # and its atexit hook join their threads).
    outcome: list[object] = []
    checker = threading.Thread(
        target=lambda: outcome.append(_outcome_of(lambda: asyncio.run(run_checks(url)))),
        name="money-invariants",
        daemon=True,
    )
    checker.start()
    checker.join(timeout=60)
    assert outcome, f"the money invariants could not be checked within 60 s on {url}"
    report = outcome[0]
    if isinstance(report, BaseException):
        raise report
    assert report.ok, f"money invariants violated: {report.violations}"  # type: ignore[attr-defined]


def _outcome_of(call: Callable[[], object]) -> object:
    try:
        return call()
    except BaseException as err:  # handed to the test's thread, which raises it
        return err
