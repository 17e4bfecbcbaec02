"""The prod overlay runs what docs/adr/0002-trusted-hops.md decides: every process as
production (and given everything production asks of it), mutual TLS with the identities the
code reads, kubelet probes on the health-only listener no pod can reach, and the migration
Job granting the database roles CloudNativePG makes."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import pytest
from k8s_render import Resource, container_env, named, of_kind, pod_specs, render
from test_manifests import SERVICES, _allowed, _pods

from gateway.settings import GatewaySettings
from ledger_svc.settings import LedgerSettings
from mesh.db_roles import parse_runtime_roles
from mesh.migrations import SERVICES_WITH_SCHEMA
from mesh.settings import SettingsError
from mesh.tls import GATEWAY_IDENTITY, spiffe_id
from notify_svc.settings import NotifySettings
from payment_svc.settings import PaymentSettings
from payout_svc.settings import PayoutSettings
from recon_svc.settings import ReconSettings
from wallet_svc.settings import WalletSettings

# Each workload's settings, read the way its process reads them at start.
SETTINGS: dict[str, Callable[[], object]] = {
    "payment-svc": PaymentSettings.from_env,
    "wallet-svc": WalletSettings.from_env,
    "ledger-svc": LedgerSettings.from_env,
    "notify-svc": NotifySettings.from_env,
    "payout-svc": PayoutSettings.from_env,
    "recon-svc": ReconSettings.from_env,
    "gateway": GatewaySettings.from_env,
}
# Its identity: the package name (mesh.tls), the name the other side checks.
IDENTITY = {**SERVICES, "gateway": GATEWAY_IDENTITY}


def operator_secret(name: str, key: str) -> str:
    """What an operator puts in the Secret `name` (k8s/README.md, "Secrets"): a value of the
    right form, and never the sandbox's published ones."""
    random32 = base64.b64encode(os.urandom(32)).decode()
    if key == "keys":  # PII_KEYS
        return f"k1:{random32}"
    if key == "secret-key":  # NOTIFY_SECRET_KEY
        return random32
    if key in ("user", "username"):
        return name.removeprefix("paymesh-nats-").removeprefix("paymesh-db-").replace("-", "_")
    return f"{name}-{key}-{os.urandom(8).hex()}"


def _main_container(resources: tuple[Resource, ...], workload: str) -> Resource:
    return pod_specs(resources)[workload]["spec"]["containers"][0]


def _start_settings(monkeypatch: pytest.MonkeyPatch, workload: str, env: dict[str, str]) -> object:
    monkeypatch.setattr(os, "environ", dict(env))
    return SETTINGS[workload]()


def test_every_prod_process_starts_as_production_with_what_its_pod_gives_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = render("prod")
    for workload in SETTINGS:
        env = container_env(resources, _main_container(resources, workload), operator_secret)
        assert env["PAYMESH_ENV"] == "production", workload
        _start_settings(monkeypatch, workload, env)  # raises SettingsError on a missing piece
        # ... and production is really checked: without its certificate it refuses to start.
        del env["MESH_TLS_CERT_FILE"]
        with pytest.raises(SettingsError, match="mutual TLS"):
            _start_settings(monkeypatch, workload, env)


def test_dev_stays_development() -> None:
    resources = render("dev")
    for workload in SETTINGS:
        env = container_env(resources, _main_container(resources, workload), operator_secret)
        assert env.get("PAYMESH_ENV", "development") == "development", workload


def test_services_need_their_nats_user_and_payment_its_pii_keys_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = render("prod")
    for workload, missing, why in [
        *[(name, "NATS_USER", "NATS_USER") for name in SERVICES],
        ("payment-svc", "PII_KEYS", "PII_KEYS"),
    ]:
        env = container_env(resources, _main_container(resources, workload), operator_secret)
        del env[missing]
        with pytest.raises(SettingsError, match=why):
            _start_settings(monkeypatch, workload, env)


def test_certificates_name_each_process_as_the_code_reads_it() -> None:
    resources = render("prod")
    certificates = {c["spec"]["secretName"]: c["spec"] for c in of_kind(resources, "Certificate")}
    gateway_env = container_env(resources, _main_container(resources, "gateway"))
    for workload, identity in IDENTITY.items():
        volumes = pod_specs(resources)[workload]["spec"]["volumes"]
        (secret,) = [v["secret"]["secretName"] for v in volumes if v["name"] == "mesh-tls"]
        cert = certificates[secret]
        assert cert["uris"] == [spiffe_id(identity)], workload
        assert cert["issuerRef"]["name"] == "paymesh-mesh"
        if workload == "gateway":
            assert cert["usages"] == ["client auth"]
            continue
        assert set(cert["usages"]) == {"server auth", "client auth"}
        # The gateway verifies the server's certificate against the host it dials.
        prefix = identity.split("_")[0].upper()
        # A `dns:///name:port` target (the headless Service, docs/adr/0026) is checked as `name`.
        target = gateway_env[f"{prefix}_GRPC_ADDR"].removeprefix("dns:///")
        host = target.rsplit(":", 1)[0]
        assert host in cert["dnsNames"], workload
        container = _main_container(resources, workload)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert (env["MESH_TLS_CA_FILE"], env["MESH_TLS_CERT_FILE"], env["MESH_TLS_KEY_FILE"]) == (
            "/etc/paymesh/tls/ca.crt",
            "/etc/paymesh/tls/tls.crt",
            "/etc/paymesh/tls/tls.key",
        )
        mount = {m["name"]: m for m in container["volumeMounts"]}["mesh-tls"]
        assert mount == {"name": "mesh-tls", "mountPath": "/etc/paymesh/tls", "readOnly": True}
        # Only the gateway may call the services' RPCs (the default), payout_svc the wallet's
        # (its hold RPCs, docs/adr/0012-pay-out.md) and recon_svc the payment service's (its
        # class-1 fixes and refunds, docs/adr/0018) and the ledger's (the finance queue's
        # bookings, docs/adr/0025).
        callers = {
            "wallet-svc": "gateway,payout_svc",
            "payment-svc": "gateway,recon_svc",
            "ledger-svc": "gateway,recon_svc",
        }.get(workload)
        assert env.get("GRPC_ALLOWED_CALLERS") == callers, workload


def test_kubelet_probes_ask_the_health_only_listener_that_no_pod_can_reach() -> None:
    resources = render("prod")
    policies = of_kind(resources, "NetworkPolicy")
    pods = _pods(resources)
    for workload in SERVICES:
        container = _main_container(resources, workload)
        env = {e["name"]: e.get("value") for e in container["env"]}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        # The process listens where the probes ask.
        assert env["MESH_HEALTH_GRPC_ADDR"] == f"0.0.0.0:{ports['grpc-health']}", workload
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": ports["grpc-health"]}, (workload, probe)
        # kubelet probes from the pod's own node, which a NetworkPolicy cannot block; no pod
        # (nor any Service) may reach the plain-text port.
        labels = pods[workload][0]
        for peer, (peer_labels, _) in [*pods.items(), ("any other", ({}, set()))]:
            assert not _allowed(policies, "ingress", labels, peer_labels, ports["grpc-health"]), (
                peer,
                workload,
            )
        service = named(resources, "Service", workload)
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["grpc"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_migration_job_grants_the_roles_cloudnativepg_makes(overlay: str) -> None:
    resources = render(overlay)
    (job,) = of_kind(resources, "Job")
    env = container_env(resources, job["spec"]["template"]["spec"]["containers"][0])
    grants = parse_runtime_roles(env["PAYMESH_DB_RUNTIME_ROLES"])
    # Every schema the migrations make, to the role its service connects as ...
    assert grants == {schema: package for package, schema in SERVICES_WITH_SCHEMA.items()}
    # ... which is a login role of the Cluster.
    cluster: dict[str, Any] = named(resources, "Cluster", "paymesh-pg")["spec"]
    assert set(grants.values()) == {r["name"] for r in cluster["managed"]["roles"]}
