"""`paymesh dlq` before it touches NATS: where it looks for NATS and the database, and what it
says when it finds neither."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from paymesh_cli.main import cli
from paymesh_cli.stackfile import StackInfo


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NATS_URL", "DATABASE_URL", "NATS_USER", "NATS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_without_a_stack_or_a_url_it_says_where_nats_is_looked_for(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dlq", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "--nats-url" in result.output and "NATS_URL" in result.output


def test_replay_and_discard_need_the_audit_log_database(tmp_path: Path) -> None:
    for verb in ("replay", "discard"):
        result = CliRunner().invoke(
            cli,
            ["dlq", verb, "--all", "--nats-url", "nats://127.0.0.1:1", "--data-dir", str(tmp_path)],
        )
        assert result.exit_code != 0
        assert "audited" in result.output and "--database-url" in result.output


def test_the_stack_file_gives_nats_and_an_unreachable_nats_is_a_clear_error(tmp_path: Path) -> None:
    StackInfo(
        gateway_url="http://127.0.0.1:1",
        database_url="postgresql://postgres@127.0.0.1:1/paymesh",
        nats_url="nats://127.0.0.1:1",
        psp_api_base="http://127.0.0.1:1",
        psp_api_key="sk_test_x",
        api_key_file=str(tmp_path / "key"),
    ).save(tmp_path)
    result = CliRunner().invoke(cli, ["dlq", "show", "3", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "cannot reach NATS at nats://127.0.0.1:1" in result.output
    assert "Traceback" not in result.output


def test_replay_wants_exactly_one_selection(tmp_path: Path) -> None:
    base = ["--nats-url", "nats://127.0.0.1:1", "--database-url", "postgresql://x@127.0.0.1:1/p"]
    for selection in ([], ["3", "--all"], ["--consumer", "wallet-credit", "--all"]):
        result = CliRunner().invoke(cli, ["dlq", "replay", *selection, *base])
        assert result.exit_code == 2, result.output
        assert "one of them" in result.output
