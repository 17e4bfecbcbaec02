"""`python -m paymesh_cli`: the `paymesh` command without its console script."""

from paymesh_cli.main import cli

cli(prog_name="paymesh")
