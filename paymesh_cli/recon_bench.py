"""`paymesh recon bench --rows N [--seed S] [--json]`: generate a period of N orders and about
N PSP transactions with planted mismatches of every type, reconcile it with the engine recon
runs use (DuckDB matcher, domain typing and classes), and print the time, the peak RSS, rows/s
and precision and recall per mismatch type against the planted truth.

Both sides are files in a scratch directory (the PostgreSQL COPY adapter writes the same files;
its read is not in this measurement). Exits non-zero unless every planted mismatch is found with
its class and nothing else is found."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from paymesh_cli.recon_bench_data import Key, generate
from recon_svc.adapters.duckdb_matcher import DuckDbMatcher
from recon_svc.adapters.our_files import OurRecordFiles
from recon_svc.adapters.pg_records import PostgresRecords
from recon_svc.adapters.psp_report_file import PspReportFile
from recon_svc.domain.classes import Classification, MismatchClass
from recon_svc.domain.mismatches import MATCHER_TYPES, Mismatch, MismatchType
from recon_svc.service_layer.ports import OurRecords
from recon_svc.service_layer.reconcile import reconcile


class KeySink:
    """Keeps each mismatch's key and class: the planted ones are few, and a false one is
    exactly what the benchmark must show."""

    def __init__(self) -> None:
        self.found: dict[Key, MismatchClass] = {}
        self.repeated = 0  # a mismatch reported twice is a defect too

    def add(self, mismatch: Mismatch, classification: Classification) -> None:
        if mismatch.key in self.found:
            self.repeated += 1
        self.found[mismatch.key] = classification.mismatch_class


@dataclass
class Score:
    planted: int = 0
    found: int = 0
    true: int = 0
    misclassified: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true / self.planted if self.planted else 1.0


def score(expected: dict[Key, MismatchClass], found: dict[Key, MismatchClass]) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    for kind in MismatchType:
        if kind in MATCHER_TYPES:  # what the bench plants: the ledger and wallet are not in it
            scores[kind.value] = Score()
    for key, cls in expected.items():
        scores[key[0]].planted += 1
        if key in found and found[key] is not cls:
            scores[key[0]].misclassified.append(f"{key}: {found[key].name}, not {cls.name}")
    for key in found:
        scores[key[0]].found += 1
        if key in expected:
            scores[key[0]].true += 1
    return dict(scores)


def peak_rss_mb() -> float:
    """The process's peak resident set (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(
    rows: int, seed: int, memory_limit: str = "96MB", from_postgres: bool = False
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="paymesh-recon-bench-") as scratch_dir,
        ExitStack() as stack,
    ):
        scratch = Path(scratch_dir)
        began = time.perf_counter()
        data = generate(rows, seed, scratch)
        generated_s = time.perf_counter() - began
        ours: OurRecords = OurRecordFiles(data.ours)
        loaded_s = 0.0
        if from_postgres:
            from paymesh_cli import recon_bench_pg

            began = time.perf_counter()
            url = stack.enter_context(recon_bench_pg.scratch_postgres(scratch))
            recon_bench_pg.load(data, url)
            recon_bench_pg.without_fee_plants(data)
            ours = PostgresRecords(url)
            (scratch / "ours").mkdir()
            loaded_s = time.perf_counter() - began
        sink = KeySink()
        began = time.perf_counter()
        report = reconcile(
            data.period,
            PspReportFile(data.psp_report),
            ours,
            DuckDbMatcher(memory_limit=memory_limit),
            sink,
            scratch / "ours" if from_postgres else scratch,
        )
        reconciled_s = time.perf_counter() - began
    scores = score(data.truth.expected, sink.found)
    ok = sink.repeated == 0 and all(
        s.precision == 1.0 and s.recall == 1.0 and not s.misclassified for s in scores.values()
    )
    return {
        "rows": rows,
        "seed": seed,
        "psp_rows": data.psp_rows,
        "order_rows": data.order_rows,
        "input": (
            "PSP: a CSV file in Stripe's itemized columns; ours: "
            + (
                "the payment schema of a scratch PostgreSQL, read by COPY (in the time)"
                if from_postgres
                else "CSV files in a scratch directory"
            )
        ),
        "generate_s": round(generated_s, 2),
        "postgres_start_and_load_s": round(loaded_s, 2),
        "reconcile_s": round(reconciled_s, 2),
        "rows_per_s": round((data.psp_rows + data.order_rows) / reconciled_s),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "planted": len(data.truth.expected),
        "found": len(sink.found),
        "reported_twice": sink.repeated,
        "per_type": {
            kind: {
                "planted": s.planted,
                "found": s.found,
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
                "misclassified": s.misclassified,
            }
            for kind, s in sorted(scores.items())
        },
        "report": report.as_dict(),
        "ok": ok,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"paymesh recon bench: {result['psp_rows']} PSP rows against {result['order_rows']}"
        f" orders (seed {result['seed']}; {result['input']})",
        f"  generated in {result['generate_s']} s"
        + (
            f"; PostgreSQL started and loaded in {result['postgres_start_and_load_s']} s"
            if result["postgres_start_and_load_s"]
            else ""
        )
        + f"; reconciled in {result['reconcile_s']} s"
        f" ({result['rows_per_s']} rows/s); peak RSS {result['peak_rss_mb']} MB",
        f"  planted {result['planted']}, found {result['found']}"
        f" (reported twice: {result['reported_twice']}); by class"
        f" {result['report']['by_class']}, fixes {result['report']['fixes']}",
        f"  {'type':<18} {'planted':>7} {'found':>7} {'precision':>9} {'recall':>7}",
    ]
    for kind, s in result["per_type"].items():
        lines.append(
            f"  {kind:<18} {s['planted']:>7} {s['found']:>7} {s['precision']:>9.4f}"
            f" {s['recall']:>7.4f}"
        )
        lines.extend(f"    misclassified {m}" for m in s["misclassified"])
    lines.append(
        "  OK: every planted mismatch found and classified, none else"
        if result["ok"]
        else "  FAILED: see the types above"
    )
    return "\n".join(lines)


@click.command("bench")
@click.option(
    "--rows",
    type=click.IntRange(min=100),
    default=100_000,
    show_default=True,
    help="Payment orders in the period (about as many PSP transactions).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Where the plants go.")
@click.option(
    "--memory-limit",
    default="96MB",
    show_default=True,
    help="DuckDB's memory limit; past it, it spills to the scratch directory.",
)
@click.option(
    "--from-postgres",
    is_flag=True,
    help="Load our side into a scratch PostgreSQL and read it back by COPY, in the time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def recon_bench_command(
    rows: int, seed: int, memory_limit: str, from_postgres: bool, as_json: bool
) -> None:
    """Reconcile a generated period with planted mismatches; score what is found."""
    result = run_bench(rows, seed, memory_limit, from_postgres)
    click.echo(json.dumps(result, indent=2) if as_json else render(result))
    if not result["ok"]:
        sys.exit(1)
