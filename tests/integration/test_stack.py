"""The embedded PostgreSQL and NATS of the dev stack: start, serve, stop, keep their data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nats
import psycopg
import pytest

from paymesh_cli.stack import EmbeddedPostgres, NatsServer, free_port


def test_postgres_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", free_port())
    pg.start()
    try:
        assert pg.url == f"postgresql://postgres@127.0.0.1:{pg.port}/paymesh"
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO kept VALUES (1, 'before restart')")
            encoding = conn.execute("SHOW server_encoding").fetchone()
        assert encoding == ("UTF8",)
    finally:
        pg.stop()
    assert not pg.is_running()

    again = EmbeddedPostgres(tmp_path / "pg", free_port())
    again.start()
    try:
        with psycopg.connect(again.url) as conn:
            rows = conn.execute("SELECT id, note FROM kept").fetchall()
        assert rows == [(1, "before restart")]
    finally:
        again.stop()


def test_postgres_starts_over_a_stale_pid_file(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", free_port())
    pg.start()
    pg.stop()
    # What a SIGKILLed run leaves: postmaster.pid naming a live process that is not PostgreSQL.
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        port = free_port()
        (tmp_path / "pg" / "postmaster.pid").write_text(
            f"{sleeper.pid}\n{tmp_path / 'pg'}\n1700000000\n{port}\n/tmp\n127.0.0.1\n"
            "  1  2\nready   \n"
        )
        with EmbeddedPostgres(tmp_path / "pg", port) as again:
            with psycopg.connect(again.url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_postgres_that_cannot_start_says_why(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "pg", free_port()) as pg:
        busy = pg.port
        clash = EmbeddedPostgres(tmp_path / "other", busy, start_timeout=10)
        with pytest.raises(RuntimeError, match=r"(?s)exited.*last lines of"):
            clash.start()
        assert not clash.is_running()


async def test_nats_jetstream_publish_and_restart_keeps_the_stream(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats", free_port())
    server.start()
    try:
        assert server.url == f"nats://127.0.0.1:{server.port}"
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        ack = await js.publish("kept.one", b"hello")
        assert ack.stream == "KEPT" and ack.seq == 1
        await nc.close()
    finally:
        server.stop()
    assert not server.is_running()

    again = NatsServer(tmp_path / "nats", free_port())
    again.start()
    try:
        nc = await nats.connect(again.url)
        js = nc.jetstream()
        info = await js.stream_info("KEPT")
        assert info.state.messages == 1
        msg = await js.get_msg("KEPT", seq=1)
        assert msg.data == b"hello"
        await nc.close()
    finally:
        again.stop()


def test_database_url_fixture_gives_a_fresh_database(database_url: str) -> None:
    assert "/t_" in database_url
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)


async def test_nats_url_fixture_starts_without_streams(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        assert await js.streams_info() == []
        await js.add_stream(name="LEFTOVER", subjects=["leftover.>"])  # the next test cleans it
    finally:
        await nc.close()


async def test_nats_url_fixture_removed_the_leftover(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        assert await nc.jetstream().streams_info() == []
    finally:
        await nc.close()


def test_nats_that_cannot_start_says_why(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "nats", free_port()) as first:
        clash = NatsServer(tmp_path / "other", first.port, start_timeout=10)
        with pytest.raises(RuntimeError, match=r"(?s)exited.*last lines of"):
            clash.start()
        assert not clash.is_running()
