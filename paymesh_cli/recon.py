"""`paymesh recon ...`: reconciliation through the gateway (recon_svc's REST routes).

- `run [--date D] [--json]`: start a run of a day (default yesterday, UTC), follow it with a
  progress bar, print its report (`--json`: the run as the API gives it).
- `show RUN_ID`: a run and its report.
- `mismatches list|show|resolve`: the finance queue.
- `bench`: the engine's benchmark (paymesh_cli.recon_bench).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import click

from paymesh_cli.recon_bench import recon_bench_command
from paymesh_cli.recon_client import call, short
from paymesh_cli.target import resolve_target, target_options

# How often `recon run` asks how the run is going.
POLL_S = 0.5


@click.group("recon")
def recon_group() -> None:
    """Reconcile the PSP's books with paymesh's."""


recon_group.add_command(recon_bench_command)


def _print_run(run: dict[str, Any]) -> None:
    report = run.get("report", {})
    status = short(run["status"], "RUN_STATUS_")
    click.echo(f"run {run['run_id']} of {run['period']} ({run['source']}): {status}")
    if report.get("error"):
        click.echo(f"  error: {report['error']}")
    click.echo(
        f"  rows: psp {report.get('psp_rows', '0')}, orders {report.get('order_rows', '0')}, "
        f"refunds {report.get('refund_rows', '0')}; matched {_pairs(report.get('matched'))}"
    )
    click.echo(
        f"  mismatches by type: {_pairs(report.get('mismatched_by_type'))}; by class: "
        f"{_pairs(report.get('mismatched_by_class'))}; new {report.get('new_mismatches', '0')}"
    )
    click.echo(f"  fixes: {_pairs(report.get('fixes'))}")
    for totals in report.get("totals", []):
        click.echo(
            f"  {totals['currency']}: ours {totals['ours']}, theirs {totals['theirs']}, "
            f"difference {totals['difference']}"
        )
    click.echo(f"  duration: {report.get('duration_s', 0)} s")


def _pairs(counts: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted((counts or {}).items())) or "none"


@recon_group.command("run")
@click.option("--date", "day", default=None, help="The day, YYYY-MM-DD (default: yesterday).")
@click.option("--source", default="", help="The PSP report's source (default: the service's).")
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON.")
@target_options
def run_command(
    day: str | None,
    source: str,
    as_json: bool,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """Reconcile a day; exit 1 when the run fails or the gateway refuses it."""
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(
                f"{day!r} is not a YYYY-MM-DD date", param_hint="--date"
            ) from None
    target = resolve_target(data_dir, url, api_key, database_url)
    started = call(target, "POST", "/v1/recon/runs", body={"period": day or "", "source": source})
    run = started["run"]
    with click.progressbar(
        length=1, label=f"reconciling {run['period']}", file=None if not as_json else _Null()
    ) as bar:
        while run["status"] == "RUN_STATUS_RUNNING":
            time.sleep(POLL_S)
            run = call(target, "GET", f"/v1/recon/runs/{run['run_id']}")["run"]
        bar.update(1)
    if as_json:
        click.echo(json.dumps(run, indent=2))
    else:
        _print_run(run)
    if run["status"] != "RUN_STATUS_SUCCEEDED":
        raise SystemExit(1)


class _Null:
    """Where the progress bar goes under --json (stdout carries the JSON only)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@recon_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@target_options
def show_command(
    run_id: str,
    as_json: bool,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """A run and its report."""
    run = call(
        resolve_target(data_dir, url, api_key, database_url), "GET", f"/v1/recon/runs/{run_id}"
    )
    if as_json:
        click.echo(json.dumps(run["run"], indent=2))
    else:
        _print_run(run["run"])


@recon_group.group("mismatches")
def mismatches_group() -> None:
    """The finance queue."""


_CLASSES = {
    "1": "MISMATCH_CLASS_AUTO_FIXED",
    "2": "MISMATCH_CLASS_NEEDS_PERSON",
    "3": "MISMATCH_CLASS_UNCLASSIFIABLE",
}
_ACTIONS = ("refund", "accept", "write_off", "note")


def _line(m: dict[str, Any]) -> str:
    klass = {v: k for k, v in _CLASSES.items()}.get(m.get("mismatch_class", ""), "?")
    status = short(m.get("status", ""), "MISMATCH_STATUS_")
    detail = f"/{m['detail']}" if m.get("detail") else ""
    return (
        f"{m['mismatch_id']}  {m['period']}  class {klass}  {status:<8}  {m['type']}{detail}  "
        f"-> {m.get('suggested_action', '')}"
    )


@mismatches_group.command("list")
@click.option("--status", type=click.Choice(["open", "fixed", "resolved"]), default=None)
@click.option("--class", "klass", type=click.Choice(sorted(_CLASSES)), default=None)
@click.option("--type", "kind", default=None, help="missing_ours, amount, duplicate_charge, ...")
@click.option("--run", "run_id", default=None, help="Only those a run found or saw.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@target_options
def list_command(
    status: str | None,
    klass: str | None,
    kind: str | None,
    run_id: str | None,
    limit: int,
    as_json: bool,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """Mismatches, newest first."""
    page = call(
        resolve_target(data_dir, url, api_key, database_url),
        "GET",
        "/v1/recon/mismatches",
        params={
            "status": f"MISMATCH_STATUS_{status.upper()}" if status else None,
            "mismatch_class": _CLASSES[klass] if klass else None,
            "type": kind,
            "run_id": run_id,
            "page_size": limit,
        },
    )
    found = page.get("mismatches", [])
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for m in found:
        click.echo(_line(m))
    click.echo(
        f"{len(found)} mismatches" + (" (more: --limit)" if page.get("next_page_token") else "")
    )


@mismatches_group.command("show")
@click.argument("mismatch_id")
@click.option("--json", "as_json", is_flag=True)
@target_options
def show_mismatch_command(
    mismatch_id: str,
    as_json: bool,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """One mismatch: its evidence, suggestion and resolutions."""
    m = call(
        resolve_target(data_dir, url, api_key, database_url),
        "GET",
        f"/v1/recon/mismatches/{mismatch_id}",
    )["mismatch"]
    if as_json:
        click.echo(json.dumps(m, indent=2))
        return
    click.echo(_line(m))
    click.echo(f"  reason: {m.get('reason', '')}")
    for key, value in sorted(m.get("evidence", {}).items()):
        click.echo(f"  {key}: {value}")
    for r in m.get("resolutions", []):
        click.echo(
            f"  resolved {r['resolved_at']} by {r['resolved_by']}: "
            f"{short(r['action'], 'RESOLUTION_ACTION_').lower()} {r.get('note', '')} "
            f"{r.get('outcome', '')}".rstrip()
        )


@mismatches_group.command("resolve")
@click.argument("mismatch_id")
@click.option("--action", type=click.Choice(_ACTIONS), required=True)
@click.option("--note", default="", help="Why (required for a note).")
@click.option("--by", "resolved_by", default="", help="Who decides (default: the API key).")
@click.option("--idempotency-key", default=None, help="Repeat a resolution safely.")
@target_options
def resolve_command(
    mismatch_id: str,
    action: str,
    note: str,
    resolved_by: str,
    idempotency_key: str | None,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """Decide about a mismatch: refund, accept, write_off (up to the limit) or note."""
    m = call(
        resolve_target(data_dir, url, api_key, database_url),
        "POST",
        f"/v1/recon/mismatches/{mismatch_id}/resolve",
        body={
            "action": f"RESOLUTION_ACTION_{action.upper()}",
            "note": note,
            "resolved_by": resolved_by,
        },
        idempotency_key=idempotency_key,
    )["mismatch"]
    click.echo(_line(m))
    last = m.get("resolutions", [])[-1:] or [{}]
    click.echo(f"  {last[0].get('outcome', '')}".rstrip())
