"""`paymesh ledger verify`: recompute the ledger's hash chains from the database; exit 0 when
every link holds, 1 naming the first broken link of each broken chain, 2 when the database
cannot be read."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # loaded when the command runs: `paymesh --help` stays fast
    from paymesh_cli.ledger_chain import ChainReport

PROGRESS_EVERY_S = 2.0


async def verify_database(database_url: str, show_progress: bool) -> ChainReport:
    import psycopg

    from mesh.db import libpq_url
    from paymesh_cli.ledger_chain import has_chains, verify_chains

    last = time.monotonic()

    def progress(transactions: int, entries: int) -> None:
        nonlocal last
        if show_progress and time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            click.echo(f"  {transactions} transactions, {entries} entries verified", err=True)

    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        # One snapshot: the heads are read as of the same moment as the links they end.
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        if not await has_chains(conn):
            raise click.ClickException("this database has no hash-chained ledger (migrated?)")
        return await verify_chains(conn, progress)


def render(report: ChainReport) -> str:
    head = f"{report.transactions} transactions, {report.entries} entries in {report.seconds:.2f} s"
    if report.ok:
        return f"paymesh ledger verify: ok ({head})\n  root {report.root}"
    broken = f"{len(report.breaks)} chain{'s' if len(report.breaks) > 1 else ''} broken"
    lines = [f"paymesh ledger verify: BROKEN ({head}; {broken})"]
    for i, b in enumerate(report.breaks):
        first = "first broken link" if i == 0 else "broken link"
        where = f"transaction {b.transaction_id} (link {b.seq})" if b.transaction_id else "head"
        lines.append(f"  {first}: chain {b.chain}, {where}: {b.kind.value}: {b.detail}")
        lines.append(f"    expected {b.expected_hash or '-'}")
        lines.append(f"    stored   {b.stored_hash or '-'}")
    return "\n".join(lines)


@click.group("ledger")
def ledger_group() -> None:
    """The ledger's books: check their hash chains."""


@ledger_group.command("verify")
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="PostgreSQL URL (default: $DATABASE_URL, else the stack in --data-dir).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path(".paymesh"),
    show_default=True,
    help="Data directory of the `paymesh dev` stack.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_command(database_url: str | None, data_dir: Path, as_json: bool) -> None:
    """Recompute every hash chain of the ledger from its entries: exit 0 when intact, 1 on a
    changed, removed or added transaction or entry (naming the first broken link: chain,
    transaction, expected and stored hash), 2 when the database cannot be read."""
    import psycopg

    from paymesh_cli.target import resolve_target

    try:
        url = database_url or resolve_target(data_dir).database_url
        report = asyncio.run(verify_database(url, show_progress=sys.stderr.isatty()))
    except click.ClickException as err:
        click.echo(f"Error: {err.message}", err=True)
        raise SystemExit(2) from None
    except (OSError, psycopg.Error) as err:
        click.echo(f"Error: cannot read the ledger: {err}", err=True)
        raise SystemExit(2) from None
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render(report))
    if not report.ok:
        raise SystemExit(1)
