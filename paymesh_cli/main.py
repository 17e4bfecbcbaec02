"""The `paymesh` command (entry point `paymesh = paymesh_cli.main:cli`)."""

from __future__ import annotations

import click

from paymesh_cli.alerts import alerts_group
from paymesh_cli.api_keys import api_key_group
from paymesh_cli.audit import audit_command
from paymesh_cli.bench import bench_command
from paymesh_cli.chaos import chaos_command
from paymesh_cli.check import check_command
from paymesh_cli.dev import COMMANDS as DEV_COMMANDS
from paymesh_cli.dlq import dlq_group
from paymesh_cli.ledger import ledger_group
from paymesh_cli.payouts import payouts_group
from paymesh_cli.pii import pii_group
from paymesh_cli.recon import recon_group
from paymesh_cli.schema_wait import schema_wait_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """paymesh: run, test and operate the payment mesh."""


for command in (
    *DEV_COMMANDS,
    check_command,
    bench_command,
    chaos_command,
    api_key_group,
    pii_group,
):
    cli.add_command(command)
cli.add_command(audit_command)
cli.add_command(ledger_group)
cli.add_command(payouts_group)
cli.add_command(schema_wait_command)
cli.add_command(dlq_group)
cli.add_command(recon_group)
cli.add_command(alerts_group)

if __name__ == "__main__":  # pragma: no cover
    cli()
