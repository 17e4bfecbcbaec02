#!/usr/bin/env bash
# Creates the Secrets of k8s/README.md in a laptop cluster, with random passwords (none is written
# anywhere else). The PSP secrets are the sandbox's: a `sk_test_` key and its webhook secret.
# Usage: k8s/overlays/dev/create-secrets.sh [namespace]   (default paymesh-dev)
set -euo pipefail
ns=${1:-paymesh-dev}
random() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
secret() {  # name, then key=value pairs
  local name=$1
  shift
  local args=()
  for pair in "$@"; do args+=(--from-literal="$pair"); done
  kubectl -n "$ns" create secret generic "$name" "${args[@]}" --dry-run=client -o yaml |
    kubectl -n "$ns" apply -f -
}
basic_auth() {  # name, role
  kubectl -n "$ns" create secret generic "$1" --type=kubernetes.io/basic-auth \
    --from-literal=username="$2" --from-literal=password="$(random)" --dry-run=client -o yaml |
    kubectl -n "$ns" apply -f -
}
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
basic_auth paymesh-db-owner paymesh_owner
basic_auth paymesh-db-payment-svc payment_svc
basic_auth paymesh-db-wallet-svc wallet_svc
basic_auth paymesh-db-ledger-svc ledger_svc
basic_auth paymesh-db-notify-svc notify_svc
basic_auth paymesh-db-payout-svc payout_svc
basic_auth paymesh-db-recon-svc recon_svc
basic_auth paymesh-db-gateway gateway
for svc in payment wallet ledger notify payout recon; do
  secret "paymesh-nats-$svc-svc" user="${svc}_svc" password="$(random)"
done
secret paymesh-nats-operator password="$(random)"
secret paymesh-psp api-key="sk_test_$(random)" webhook-secret="whsec_$(random)" \
  connect-webhook-secret="whsec_$(random)"
# PII_KEYS: <key id>:<base64 of 32 random bytes> (payment_svc.pii_keys), one key to start with.
secret paymesh-pii keys="k1:$(head -c 32 /dev/urandom | base64)"
secret paymesh-notify secret-key="$(head -c 32 /dev/urandom | base64)"
echo "Secrets created in $ns (paymesh-pg-ca is made by CloudNativePG)"
