"""`paymesh recon run|show|mismatches`: what each sends to the gateway and prints (the gateway
faked at the CLI's one call function; the real round trip is tests/e2e/test_recon_over_rest)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

import paymesh_cli.recon as recon_cli
from paymesh_cli.main import cli

TARGET = ["--url", "http://gateway.test", "--api-key", "k"]
RUN = {
    "run_id": "rr_1",
    "period": "2026-12-01",
    "source": "sandbox_settlement",
    "status": "RUN_STATUS_RUNNING",
    "report": {},
}
DONE = {
    **RUN,
    "status": "RUN_STATUS_SUCCEEDED",
    "report": {
        "psp_rows": "5",
        "order_rows": "3",
        "refund_rows": "0",
        "matched": {"psp_id": "3"},
        "mismatched_by_type": {"duplicate_charge": "1", "unmatched_psp": "1"},
        "mismatched_by_class": {"2": "1", "3": "1"},
        "fixes": {},
        "new_mismatches": "2",
        "totals": [{"currency": "USD", "ours": "30.00", "theirs": "62.34", "difference": "32.34"}],
        "duration_s": 0.4,
    },
}


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    sent: list[tuple[str, str, Any]] = []
    answers = {"GET /v1/recon/runs/rr_1": [{"run": RUN}, {"run": DONE}]}

    def call(target, method, path, *, body=None, params=None, idempotency_key=None):  # type: ignore[no-untyped-def]
        sent.append((method, path, body if method == "POST" else params))
        if method == "POST" and path == "/v1/recon/runs":
            return {"run": RUN}
        if path.endswith("/resolve"):
            resolved = {**MISMATCH, "status": "MISMATCH_STATUS_RESOLVED"}
            return {"mismatch": {**resolved, "resolutions": [{"outcome": "accepted"}]}}
        if path == "/v1/recon/mismatches":
            return {"mismatches": [MISMATCH], "next_page_token": ""}
        queue = answers[f"{method} {path}"]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(recon_cli, "call", call)
    monkeypatch.setattr(recon_cli, "POLL_S", 0.0)
    return sent


MISMATCH = {
    "mismatch_id": "mm_1",
    "type": "duplicate_charge",
    "detail": "",
    "mismatch_class": "MISMATCH_CLASS_NEEDS_PERSON",
    "status": "MISMATCH_STATUS_OPEN",
    "period": "2026-12-01",
    "suggested_action": "refund",
}


def test_run_follows_the_run_and_prints_its_report(gateway) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["recon", "run", "--date", "2026-12-01", *TARGET])
    assert result.exit_code == 0, result.output
    assert gateway[0] == ("POST", "/v1/recon/runs", {"period": "2026-12-01", "source": ""})
    assert "run rr_1 of 2026-12-01 (sandbox_settlement): SUCCEEDED" in result.output
    assert "mismatches by type: duplicate_charge 1, unmatched_psp 1" in result.output
    assert "USD: ours 30.00, theirs 62.34, difference 32.34" in result.output


def test_run_json_prints_the_finished_run_only(gateway) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["recon", "run", "--json", *TARGET])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == DONE
    assert gateway[0][2] == {"period": "", "source": ""}  # the service's default: yesterday


def test_a_bad_date_is_refused_before_any_call(gateway) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["recon", "run", "--date", "yesterday", *TARGET])
    assert result.exit_code == 2 and gateway == []


def test_the_queue_is_listed_filtered_and_resolved(gateway) -> None:  # type: ignore[no-untyped-def]
    listed = CliRunner().invoke(
        cli, ["recon", "mismatches", "list", "--status", "open", "--class", "2", *TARGET]
    )
    assert listed.exit_code == 0, listed.output
    assert gateway[-1][2]["status"] == "MISMATCH_STATUS_OPEN"
    assert gateway[-1][2]["mismatch_class"] == "MISMATCH_CLASS_NEEDS_PERSON"
    assert "mm_1  2026-12-01  class 2  OPEN" in listed.output
    resolved = CliRunner().invoke(
        cli, ["recon", "mismatches", "resolve", "mm_1", "--action", "accept", *TARGET]
    )
    assert resolved.exit_code == 0, resolved.output
    assert gateway[-1][:2] == ("POST", "/v1/recon/mismatches/mm_1/resolve")
    assert gateway[-1][2]["action"] == "RESOLUTION_ACTION_ACCEPT"
    assert "RESOLVED" in resolved.output and "accepted" in resolved.output
