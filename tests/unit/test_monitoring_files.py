"""The Grafana dashboard and the Prometheus alert rules an operator installs: the rules are
valid and fire when they should (promtool, from Debian's `prometheus` package; `make test`
installs it with scripts/ensure_promtool.sh), and every figure they name is one paymesh exports,
so no panel stays empty and no alert stays silent because of a renamed metric."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import mesh.metrics  # noqa: F401  (defines every paymesh_ metric in the registry)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/paymesh.json"
RULES = ROOT / "deploy/prometheus/paymesh-alerts.yml"
RULES_TEST = ROOT / "deploy/prometheus/paymesh-alerts.test.yml"
METRIC_NAME = re.compile(r"\bpaymesh_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Every series name the code can export, from the registry (not from samples, which exist
    only once a labelled child was made)."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("paymesh_"):
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def promtool() -> str:
    found = os.environ.get("PROMTOOL_BINARY") or shutil.which("promtool")
    if not found:
        pytest.fail(
            "promtool is missing: run scripts/ensure_promtool.sh (apt-get install prometheus)"
        )
    return found


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_metric_the_dashboard_and_the_rules_name_is_exported() -> None:
    exported = exported_names()
    in_dashboard = {n for e in dashboard_exprs() for n in METRIC_NAME.findall(e)}
    # promtool checks the YAML's shape; every paymesh_ name in it must be real, wherever it is.
    in_rules = set(METRIC_NAME.findall(RULES.read_text()))
    assert in_dashboard and in_rules
    assert in_dashboard - exported == set()
    assert in_rules - exported == set()


def test_the_dashboard_shows_every_figure_exported() -> None:
    """The other way round: a figure nobody graphs is a figure nobody looks at."""
    shown = {n for e in dashboard_exprs() for n in METRIC_NAME.findall(e)}
    families = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in shown}
    missing = {f.name for f in REGISTRY.collect() if f.name.startswith("paymesh_")} - families
    assert missing == set()


def test_the_alert_rules_are_valid() -> None:
    out = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_alerts_fire_on_trouble_and_stay_quiet_otherwise() -> None:
    out = subprocess.run(
        [promtool(), "test", "rules", RULES_TEST.name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=RULES_TEST.parent,
    )
    assert out.returncode == 0, out.stdout + out.stderr
