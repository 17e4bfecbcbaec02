"""`paymesh audit`: the operator actions recorded in the gateway's append-only audit log, newest
first: who (API key id, or cli:<OS user>), what, on which resource, with what outcome."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from paymesh_cli.target import resolve_target, target_options


@click.command("audit")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Entries."
)
@target_options
def audit_command(
    as_json: bool,
    limit: int,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """List the newest audit-log entries."""
    from gateway.audit import recent_entries

    target = resolve_target(data_dir, None, None, database_url)
    if not target.database_url:
        raise click.ClickException("no database URL: pass --database-url or --data-dir")
    try:
        entries = asyncio.run(recent_entries(target.database_url, limit))
    except (OperationalError, OSError) as err:
        raise click.ClickException(f"cannot reach the database ({type(err).__name__})") from None
    if as_json:
        click.echo(json.dumps({"entries": entries}, indent=2))
        return
    if not entries:
        click.echo("the audit log is empty")
    for e in entries:
        click.echo(
            f"{e['at']}  {e['key_id']:<20} {e['action']:<45} {e['resource']:<30} "
            f"{e['outcome']}  {e['request_id'] or '-'}"
        )
