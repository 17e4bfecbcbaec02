"""`paymesh alerts`: the alerts of every service (kept by the payment service, table
`payment.alerts`, mesh.alert_store), listed, or acknowledged by an operator.

The database is found through --database-url, else DATABASE_URL, else the stack file of
`paymesh dev` in --data-dir. An acknowledgement is an operator action: it is written to the
audit log (`paymesh audit`, action `alert.acknowledge`, resource `alerts/<id>`) with the OS user.
The same over REST: `GET /v1/ops/alerts`, `POST /v1/ops/alerts/{id}:acknowledge` (scope ops).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from mesh import alert_store
from mesh.alert_store import StoredAlert
from mesh.db import make_engine
from paymesh_cli.dlq import database_url_of

SCHEMA = "payment"


def _summary(alert: StoredAlert) -> dict[str, Any]:
    def at(when: datetime | None) -> str:
        return when.isoformat() if when else ""

    return {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "subject": alert.subject,
        "service": alert.service,
        "state": alert.state,
        "detail": alert.detail,
        "first_seen": at(alert.first_seen),
        "last_seen": at(alert.last_seen),
        "count": alert.count,
        "acknowledged_at": at(alert.acknowledged_at),
        "resolved_at": at(alert.resolved_at),
    }


def _on_database(url: str, work: Any) -> Any:
    async def main() -> Any:
        engine = make_engine(url, SCHEMA, pool_size=1, application_name="paymesh-alerts")
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except click.ClickException:
        raise
    except OSError as err:
        raise click.ClickException(f"cannot reach the database ({err})") from None


def data_dir_option(fn):  # type: ignore[no-untyped-def]
    fn = click.option(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default: DATABASE_URL, else the stack file).",
    )(fn)
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=Path(".paymesh"),
        show_default=True,
        help="Data directory of the `paymesh dev` stack.",
    )(fn)


@click.group("alerts", invoke_without_command=True)
@click.pass_context
def alerts_group(ctx: click.Context) -> None:
    """Alerts of every service: list (the default), acknowledge."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command)


@alerts_group.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Resolved alerts too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@data_dir_option
def list_command(
    include_resolved: bool = False,
    as_json: bool = False,
    limit: int = 100,
    data_dir: Path = Path(".paymesh"),
    database_url: str | None = None,
) -> None:
    """List alerts: open and acknowledged first, newest first."""
    found: list[StoredAlert] = _on_database(
        database_url_of(data_dir, database_url),
        lambda engine: alert_store.list_alerts(
            engine, include_resolved=include_resolved, limit=limit
        ),
    )
    if as_json:
        click.echo(json.dumps({"alerts": [_summary(a) for a in found]}, indent=2))
        return
    if not found:
        click.echo("no alerts")
        return
    for a in found:
        seen = a.last_seen.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"{a.alert_id}  {a.state:<12} {seen}  {a.count:>5}x  {a.kind:<18} "
            f"{a.subject:<24} {a.detail[:80]}"
        )


@alerts_group.command("ack")
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True, help="The alert as JSON.")
@data_dir_option
def ack_command(alert_id: str, as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """Acknowledge an open alert (it stays listed until its condition goes away)."""
    try:
        uuid.UUID(alert_id)
    except ValueError:
        raise click.BadParameter(f"{alert_id!r} is not an alert id (a UUID)") from None
    from gateway.audit import AuditEntry, DbAuditLog, cli_actor

    url = database_url_of(data_dir, database_url)

    async def work(engine: Any) -> StoredAlert | None:
        alert = await alert_store.acknowledge(engine, alert_id, datetime.now(UTC))
        audit_engine = make_engine(url, "gateway", pool_size=1, application_name="paymesh-alerts")
        try:
            outcome = 200 if alert is not None else 404
            entry = AuditEntry(
                cli_actor(), "alert.acknowledge", f"alerts/{alert_id}", None, outcome
            )
            await DbAuditLog(audit_engine).record(entry)
        finally:
            await audit_engine.dispose()
        return alert

    alert = _on_database(url, work)
    if alert is None:
        raise click.ClickException(f"no alert {alert_id}")
    if as_json:
        click.echo(json.dumps(_summary(alert), indent=2))
    else:
        click.echo(f"alert {alert.alert_id} ({alert.kind} on {alert.subject}): {alert.state}")
