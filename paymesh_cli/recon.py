"""`paymesh recon ...`: reconciliation. So far `bench`; runs, reports and the finance queue
come with recon_svc."""

from __future__ import annotations

import click

from paymesh_cli.recon_bench import recon_bench_command


@click.group("recon")
def recon_group() -> None:
    """Reconcile the PSP's books with paymesh's."""


recon_group.add_command(recon_bench_command)
