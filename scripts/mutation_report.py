"""`make mutate`: run mutmut over the money-rule and exactly-once modules ([tool.mutmut] in
pyproject.toml) and write the score per module into docs/mutation-testing.md.

The report's generated part sits between two markers and is rewritten on every run; the rest of
the file (how to read it, the surviving mutants explained) is written by hand. A survivor is
"explained" when the hand-written part names it in backticks.

    python scripts/mutation_report.py                 # run everything, then write the report
    python scripts/mutation_report.py --report-only   # write the report from the last run
    python scripts/mutation_report.py 'mesh.money*'   # run only these mutants, then the report
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "mutation-testing.md"
BEGIN = "<!-- mutate:begin (written by scripts/mutation_report.py; do not edit) -->"
END = "<!-- mutate:end -->"
MUTMUT = [sys.executable, "-m", "mutmut"]
# What a test catches: a failure, a hang (mutmut's timeout) or a type error it checks.
CAUGHT = ("killed", "timeout", "caught by type check")
RESULT_LINE = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+)$")


def module_of(mutant: str) -> str:
    """`payment_svc.domain.order.xǁPaymentOrderǁstart__mutmut_3` -> `payment_svc.domain.order`."""
    return mutant.split("__mutmut_")[0].rsplit(".", 1)[0]


def results() -> dict[str, str]:
    out = subprocess.run(
        [*MUTMUT, "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            found[match["name"]] = match["status"].strip()
    return found


def table(statuses: dict[str, str], explained: set[str]) -> str:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in statuses.items():
        by_module[module_of(name)][status] += 1
    lines = [
        "| module | mutants | killed | timeout | suspicious | survived | no test reaches it "
        "| not run | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total: Counter[str] = Counter()
    for module in sorted(by_module):
        counts = by_module[module]
        total.update(counts)
        lines.append(_row(f"`{module}`", counts))
    lines.append(_row("**all**", total))
    survivors = sorted(n for n, s in statuses.items() if s == "survived")
    unexplained = [n for n in survivors if n not in explained]
    lines += [
        "",
        f"Score = (killed + timeout) / mutants. {len(survivors)} survivors, "
        f"{len(survivors) - len(unexplained)} of them explained below.",
    ]
    if unexplained:
        lines += ["", "Survivors not explained yet (`mutmut show NAME` shows each):", ""]
        lines += [f"- {name}" for name in unexplained]
    return "\n".join(lines)


def _row(label: str, counts: Counter[str]) -> str:
    mutants = sum(counts.values())
    caught = sum(counts[s] for s in CAUGHT)
    score = f"{100 * caught / mutants:.0f} %" if mutants else "-"
    return (
        f"| {label} | {mutants} | {counts['killed'] + counts['caught by type check']} "
        f"| {counts['timeout']} | {counts['suspicious']} | {counts['survived']} "
        f"| {counts['no tests']} "
        f"| {counts['not checked']} | {score} |"
    )


def write_report(statuses: dict[str, str]) -> None:
    text = REPORT.read_text() if REPORT.exists() else f"# Mutation testing\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    explained = set(re.findall(r"`([^`\s]+__mutmut_\d+)`", head + tail))
    REPORT.write_text(f"{head}{BEGIN}\n{table(statuses, explained)}\n{END}{tail}")
    print(f"wrote {REPORT.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutants", nargs="*", help="mutant name patterns (default: all)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        # One worker by default: the machine is shared (MUTATE_CHILDREN to use more).
        children = os.environ.get("MUTATE_CHILDREN", "1")
        run = [*MUTMUT, "run", "--max-children", children, *args.mutants]
        code = subprocess.run(run, cwd=ROOT).returncode
        if code != 0:
            print(f"mutmut run exited {code}", file=sys.stderr)
            return code
    write_report(results())
    return 0


if __name__ == "__main__":
    sys.exit(main())
