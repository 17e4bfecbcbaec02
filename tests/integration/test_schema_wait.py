"""`paymesh schema-wait`, which the pods of a release run before starting: it holds them back
until the migration Job has brought their schema to the newest revision, and no longer."""

from __future__ import annotations

from click.testing import CliRunner

from mesh.migrations import upgrade
from paymesh_cli.main import cli


def wait(database_url: str, *services: str) -> tuple[int, str]:
    args = ["schema-wait", "--database-url", database_url, "--timeout", "1", "--interval", "0.2"]
    for service in services:
        args += ["--service", service]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def test_a_pod_waits_until_its_schema_is_migrated_then_starts(database_url: str) -> None:
    code, output = wait(database_url, "wallet_svc")
    assert code == 1
    assert "still waiting for ['wallet_svc']" in output

    upgrade("wallet_svc", database_url)

    code, output = wait(database_url, "wallet_svc")
    assert code == 0, output
    assert "schemas at the newest revision" in output


def test_each_service_waits_for_its_own_schema_only(database_url: str) -> None:
    upgrade("ledger_svc", database_url)

    assert wait(database_url, "ledger_svc")[0] == 0
    code, output = wait(database_url, "ledger_svc", "payment_svc")
    assert code == 1
    assert "['payment_svc']" in output


def test_an_unreachable_database_is_waited_for_and_named() -> None:
    code, output = wait("postgresql://nobody@127.0.0.1:1/none", "gateway")
    assert code == 1
    assert "OperationalError" in output
