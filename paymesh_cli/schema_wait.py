"""`paymesh schema-wait`: block until the schemas are at the newest revision of this code.

The init container of every Deployment in k8s/ runs it, so that a release's pods start only once
that release's migration Job has brought their schema to head (kustomize has no Helm hooks).
"""

from __future__ import annotations

import time

import click

from mesh.migrations import SERVICES_WITH_SCHEMA, behind


@click.command("schema-wait")
@click.option(
    "--service",
    "services",
    multiple=True,
    type=click.Choice(list(SERVICES_WITH_SCHEMA)),
    help="A service whose schema to wait for (repeatable; default: every one).",
)
@click.option("--database-url", envvar="DATABASE_URL", required=True, help="[env: DATABASE_URL]")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds before giving up.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between two looks.")
def schema_wait_command(
    services: tuple[str, ...], database_url: str, timeout: float, interval: float
) -> None:
    """Wait until each schema is at the newest revision (exit 1 after --timeout)."""
    waiting = list(services or SERVICES_WITH_SCHEMA)
    deadline = time.monotonic() + timeout
    while True:
        try:
            waiting = [package for package in waiting if behind(package, database_url)]
            reason = "not migrated yet"
        except Exception as err:  # the database may not be up yet: keep waiting, say why
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if not waiting:
            click.echo("schemas at the newest revision")
            return
        if time.monotonic() >= deadline:
            raise click.ClickException(
                f"after {timeout:.0f} s, still waiting for {waiting}: {reason}"
            )
        click.echo(f"waiting for {', '.join(waiting)}: {reason}", err=True)
        time.sleep(interval)
