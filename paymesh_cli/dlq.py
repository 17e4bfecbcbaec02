"""`paymesh dlq`: the dead-letter stream for an operator. List and show dead letters (what
failed, where, how often, with which errors), replay them after a fix, or discard them.

A replay publishes the original event (payload and headers) on its original subject with a
fresh Nats-Msg-Id, so that the stream's duplicate window does not drop it; it then reaches its
consumers like any other delivery, and their inboxes drop it where it was applied already:
replaying twice changes nothing. The dead letter is deleted once the replay is stored (a crash
in between leaves it there, and a second replay is as harmless as the first).

NATS is found through --nats-url, else NATS_URL, else the stack file of `paymesh dev` in
--data-dir; NATS_USER and NATS_PASSWORD are used when set. Replays and discards are operator
actions: each is written to the audit log (`paymesh audit`, action `dlq.replay` /
`dlq.discard`, resource `dlq/<seq>/<consumer>/<original message id>`) with the OS user, so
they also need the database (--database-url, else DATABASE_URL, else the stack file).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import nats
from nats.js import JetStreamContext

from mesh import dead_letters
from mesh.dead_letters import DeadLetter, discard, read_dead_letters


def database_url_of(data_dir: Path, database_url: str | None) -> str:
    url = database_url or os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    from paymesh_cli.stackfile import StackFileError, StackInfo

    try:
        return StackInfo.load(data_dir).database_url
    except StackFileError as err:
        raise click.ClickException(
            f"{err}; replays and discards are audited: pass --database-url (or set DATABASE_URL)"
        ) from None


def nats_url_of(data_dir: Path, nats_url: str | None) -> str:
    url = nats_url or os.environ.get("NATS_URL", "").strip()
    if url:
        return url
    from paymesh_cli.stackfile import StackFileError, StackInfo

    try:
        return StackInfo.load(data_dir).nats_url
    except StackFileError as err:
        raise click.ClickException(f"{err}; or pass --nats-url (or set NATS_URL)") from None


async def _connect(url: str) -> tuple[Any, JetStreamContext]:
    options: dict[str, Any] = {}
    if os.environ.get("NATS_USER"):
        options["user"] = os.environ["NATS_USER"]
        options["password"] = os.environ.get("NATS_PASSWORD", "")
    # Fail fast when NATS is not there: one more try half a second later (an operator runs it
    # again; the library's default keeps trying for two minutes).
    nc = await nats.connect(
        servers=[url],
        name="paymesh-dlq",
        connect_timeout=5,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.5,
        **options,
    )
    return nc, nc.jetstream(timeout=10)


async def dead_letter_at(js: JetStreamContext, seq: int) -> DeadLetter:
    try:
        return await dead_letters.dead_letter_at(js, seq)
    except dead_letters.NoSuchDeadLetter as err:
        raise click.ClickException(str(err)) from None


async def replay(js: JetStreamContext, letter: DeadLetter) -> None:
    """Publish the original event again (fresh message id), then delete the dead letter."""
    try:
        await dead_letters.replay(js, letter)
    except ValueError as err:
        raise click.ClickException(str(err)) from None


def _summary(letter: DeadLetter) -> dict[str, Any]:
    event: dict[str, str] = {}
    try:
        from mesh.events import decode_envelope

        env = decode_envelope(letter.payload)
        event = {
            "event_id": env.event_id,
            "event_type": env.event_type,
            "aggregate_id": env.aggregate_id,
        }
    except Exception:
        event = {}
    return {
        "seq": letter.seq,
        "dead_at": letter.dead_at.isoformat() if letter.dead_at else "",
        "consumer": letter.consumer,
        "subject": letter.subject,
        "reason": letter.reason,
        "attempts": letter.attempts,
        "failures": letter.failures,
        "first_error": letter.first_error,
        "first_failed_at": letter.first_failed_at,
        "last_error": letter.last_error,
        "last_failed_at": letter.last_failed_at,
        "original_msg_id": letter.original_msg_id,
        "original_stream": letter.original_stream,
        "original_seq": letter.original_seq,
        "event": event,
        "headers": letter.headers,
        "payload_base64": base64.b64encode(letter.payload).decode(),
    }


def _run(url: str, work: Any) -> Any:
    async def main() -> Any:
        try:
            nc, js = await _connect(url)
        except Exception as err:
            raise click.ClickException(f"cannot reach NATS at {url} ({err})") from None
        try:
            return await work(js)
        finally:
            await nc.close()

    return asyncio.run(main())


def database_option(fn):  # type: ignore[no-untyped-def]
    return click.option(
        "--database-url",
        default=None,
        help="PostgreSQL URL for the audit log (default: DATABASE_URL, else the stack file).",
    )(fn)


def nats_options(fn):  # type: ignore[no-untyped-def]
    fn = click.option(
        "--nats-url", default=None, help="NATS URL (default: NATS_URL, else the stack file)."
    )(fn)
    fn = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=Path(".paymesh"),
        show_default=True,
        help="Data directory of the `paymesh dev` stack.",
    )(fn)
    return fn


@click.group("dlq")
def dlq_group() -> None:
    """Dead letters: list, show, replay after a fix, discard."""


@dlq_group.command("list")
@click.option("--consumer", default=None, help="Only the dead letters of this consumer.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
@nats_options
def list_command(
    consumer: str | None, as_json: bool, limit: int, data_dir: Path, nats_url: str | None
) -> None:
    """List dead letters, oldest first."""
    letters = _run(
        nats_url_of(data_dir, nats_url), lambda js: read_dead_letters(js, consumer, limit)
    )
    if as_json:
        click.echo(json.dumps({"dead_letters": [_summary(d) for d in letters]}, indent=2))
        return
    if not letters:
        click.echo("no dead letters")
        return
    for d in letters:
        at = d.dead_at.strftime("%Y-%m-%d %H:%M:%S") if d.dead_at else "-"
        click.echo(
            f"{d.seq:>6}  {at}  {d.consumer:<24} {d.subject:<28} {d.attempts:>4}x  {d.reason[:80]}"
        )


@dlq_group.command("show")
@click.argument("seq", type=click.IntRange(1))
@nats_options
def show_command(seq: int, data_dir: Path, nats_url: str | None) -> None:
    """Everything a dead letter keeps (JSON)."""
    letter = _run(nats_url_of(data_dir, nats_url), lambda js: dead_letter_at(js, seq))
    click.echo(json.dumps(_summary(letter), indent=2))


def _selected(js: JetStreamContext, seqs: Sequence[int], consumer: str | None, all_: bool) -> Any:
    async def pick() -> list[DeadLetter]:
        if seqs:
            return [await dead_letter_at(js, s) for s in seqs]
        return await read_dead_letters(js, consumer)

    return pick()


def _act(
    verb: str,
    action: Any,
    seqs: Sequence[int],
    consumer: str | None,
    all_: bool,
    url: str,
    database_url: str,
) -> None:
    if bool(seqs) + bool(consumer) + all_ != 1:
        raise click.UsageError("give dead-letter numbers, or --consumer C, or --all (one of them)")
    from gateway.audit import AuditEntry, DbAuditLog, cli_actor
    from mesh.db import make_engine

    async def work(js: JetStreamContext) -> list[DeadLetter]:
        engine = make_engine(database_url, "gateway", pool_size=1, application_name="paymesh-dlq")
        audit = DbAuditLog(engine)
        done: list[DeadLetter] = []
        try:
            for letter in await _selected(js, seqs, consumer, all_):
                resource = f"dlq/{letter.seq}/{letter.consumer}/{letter.original_msg_id or '-'}"
                try:
                    await action(js, letter)
                except Exception:
                    await audit.record(AuditEntry(cli_actor(), f"dlq.{verb}", resource, None, 500))
                    raise
                await audit.record(AuditEntry(cli_actor(), f"dlq.{verb}", resource, None, 200))
                done.append(letter)
        finally:
            await engine.dispose()
        return done

    done = _run(url, work)
    for d in done:
        click.echo(f"{verb} {d.seq}: {d.subject} for {d.consumer} ({d.original_msg_id or '-'})")
    past = {"replay": "replayed", "discard": "discarded"}[verb]
    click.echo(f"{len(done)} dead letter(s) {past}")


@dlq_group.command("replay")
@click.argument("seqs", nargs=-1, type=click.IntRange(1))
@click.option("--consumer", default=None, help="Every dead letter of this consumer.")
@click.option("--all", "all_", is_flag=True, help="Every dead letter.")
@nats_options
@database_option
def replay_command(
    seqs: tuple[int, ...],
    consumer: str | None,
    all_: bool,
    data_dir: Path,
    nats_url: str | None,
    database_url: str | None,
) -> None:
    """Publish dead letters' events again (after a fix), then delete them from the DLQ."""
    _act(
        "replay",
        replay,
        seqs,
        consumer,
        all_,
        nats_url_of(data_dir, nats_url),
        database_url_of(data_dir, database_url),
    )


@dlq_group.command("discard")
@click.argument("seqs", nargs=-1, type=click.IntRange(1))
@click.option("--consumer", default=None, help="Every dead letter of this consumer.")
@click.option("--all", "all_", is_flag=True, help="Every dead letter.")
@nats_options
@database_option
def discard_command(
    seqs: tuple[int, ...],
    consumer: str | None,
    all_: bool,
    data_dir: Path,
    nats_url: str | None,
    database_url: str | None,
) -> None:
    """Delete dead letters without replaying them."""
    _act(
        "discard",
        discard,
        seqs,
        consumer,
        all_,
        nats_url_of(data_dir, nats_url),
        database_url_of(data_dir, database_url),
    )
