"""Validate rendered manifests against the Kubernetes schemas kubernetes-validate ships (offline,
strict: an unknown or misspelt field fails). Custom resources have no schema there: only the
kinds of the operators k8s/ relies on may lack one (anything else is a typo in apiVersion/kind).

Usage: python scripts/validate_k8s.py RENDERED.yaml...
"""

from __future__ import annotations

import sys

import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, resources_from_file

KUBERNETES_VERSIONS = ("1.30", "1.37")  # the oldest we support and the newest schemas shipped
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("cert-manager.io/v1", "Issuer"),
    ("cert-manager.io/v1", "Certificate"),
}


def main(paths: list[str]) -> int:
    failures = 0
    checked = 0
    custom: set[tuple[str, str]] = set()
    for path in paths:
        for resource in resources_from_file(path):
            key = (resource.get("apiVersion", ""), resource.get("kind", ""))
            name = f"{path}: {key[1]}/{resource.get('metadata', {}).get('name')}"
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(resource, version, strict=True)
                except SchemaNotFoundError:
                    if key not in CUSTOM_KINDS:
                        print(f"{name}: no schema for {key} in Kubernetes {version}")
                        failures += 1
                    custom.add(key)
                except ValidationError as err:
                    failures += 1
                    print(f"{name}: {err.message} at {'.'.join(map(str, err.path))} ({version})")
            checked += 1
    versions = ", ".join(KUBERNETES_VERSIONS)
    without = ", ".join(sorted(kind for _, kind in custom))
    print(
        f"kubernetes-validate: {checked} objects against Kubernetes {versions} (strict),"
        f" {failures} failures; without a shipped schema: {without}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
