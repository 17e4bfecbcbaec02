"""Completing report runs once their time has come: the CSV is written beside the journal, then
the run (`succeeded`, its `result` a file object) and the file are journaled in one line, so
a run is never `succeeded` without its contents on disk."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from psp_sandbox import discrepancies, reporting
from psp_sandbox.ids import new_id
from psp_sandbox.reporting_routes import RUN_SCHEDULE
from psp_sandbox.store import SandboxStore

# Stripe keeps a report's file for a year or so; the sandbox says the same.
FILE_LIFETIME_S = 365 * 24 * 3600


def contents_path(files_dir: Path, file_id: str) -> Path:
    return files_dir / f"{file_id}.csv"


def complete_due(store: SandboxStore, files_dir: Path, now: float) -> int:
    """Complete every due report run; how many were completed."""
    completed = 0
    for run_id, schedule in store.records(RUN_SCHEDULE).items():
        if schedule["due"] > now:
            continue
        stored = store.get(run_id, "reporting.report_run")
        if stored is None or stored["status"] != "pending":
            store.save(records=[(RUN_SCHEDULE, run_id, None)])
            continue
        run = copy.deepcopy(stored)
        file = _write_file(store, files_dir, run, schedule.get("origin", ""), int(now))
        run.update(status="succeeded", succeeded_at=int(now), result=file)
        store.save([run, file], records=[(RUN_SCHEDULE, run_id, None)])
        completed += 1
    return completed


def _write_file(
    store: SandboxStore, files_dir: Path, run: dict[str, Any], origin: str, now: int
) -> dict[str, Any]:
    parameters = run["parameters"]
    report_type = reporting.REPORT_TYPES[run["report_type"]]
    columns = list(parameters.get("columns") or report_type.default_columns)
    rows = reporting.rows(
        report_type.id,
        discrepancies.visible_transactions(store),
        store.get,
        parameters["interval_start"],
        parameters["interval_end"],
        parameters.get("currency"),
    )
    file_id = new_id("file_")
    files_dir.mkdir(parents=True, exist_ok=True)
    target = contents_path(files_dir, file_id)
    partial = target.with_suffix(".part")
    with partial.open("w", newline="", encoding="utf-8") as out:  # row by row, not in memory
        reporting.write_csv(out, columns, rows)
    size = partial.stat().st_size
    os.replace(partial, target)  # whole or absent, whatever happens to the process
    return {
        "id": file_id,
        "object": "file",
        "created": now,
        "expires_at": now + FILE_LIFETIME_S,
        "filename": f"{run['id']}.csv",
        "links": {"object": "list", "data": [], "has_more": False, "url": "/v1/file_links"},
        "purpose": "finance_report_run",
        "size": size,
        "title": f"{report_type.id} {run['id']}",
        "type": "csv",
        "url": f"{origin}/v1/files/{file_id}/contents",
    }
