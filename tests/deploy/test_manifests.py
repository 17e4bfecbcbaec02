"""What the rendered k8s/ overlays promise a platform team: hardened pods, probes on the ports
the processes listen on, exactly the network flows the mesh uses, a migration Job per release,
a database role and an autoscaling signal per service that match the code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from k8s_render import OVERLAYS, ROOT, Resource, named, of_kind, pod_specs, render, render_dir

from ledger_svc.service_layer.use_cases import POST_CONSUMER
from mesh.migrations import SERVICES_WITH_SCHEMA
from notify_svc.service_layer.events import EVENTS_CONSUMER
from payment_svc.entrypoints.consumers import EXECUTOR
from payout_svc.entrypoints.executor import EXECUTOR as PAYOUT_EXECUTOR
from wallet_svc.service_layer.use_cases import CREDIT_CONSUMER

SERVICES = {
    "payment-svc": "payment_svc",
    "wallet-svc": "wallet_svc",
    "ledger-svc": "ledger_svc",
    "notify-svc": "notify_svc",
    "payout-svc": "payout_svc",
    "recon-svc": "recon_svc",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_hardened(overlay: str) -> None:
    for name, template in pod_specs(render(overlay)).items():
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["serviceAccountName"], name
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        tmp = {v["name"]: v for v in spec["volumes"]}["tmp"]
        assert "emptyDir" in tmp, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert {"requests", "limits"} <= set(container["resources"]), name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_is_started_by_its_module_and_probed_where_it_listens(overlay: str) -> None:
    resources = render(overlay)
    for name, module in SERVICES.items():
        container = pod_specs(resources)[name]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", module]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        # The process listens where the named grpc port says.
        grpc_addr = env[f"{module.split('_')[0].upper()}_GRPC_ADDR"]
        assert grpc_addr == f"0.0.0.0:{ports['grpc']}"
        # The kubelet asks grpc.health.v1 on the grpc port, or (with mTLS) the health-only one.
        probe_port = ports.get("grpc-health", ports["grpc"])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == probe_port, (name, probe)
        service = named(resources, "Service", name)
        assert service["spec"]["ports"][0]["targetPort"] == "grpc"
    gateway = pod_specs(resources)["gateway"]["spec"]["containers"][0]
    assert gateway["command"] == ["python", "-m", "gateway"]
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_new_pods_wait_for_their_schema(overlay: str) -> None:
    specs = pod_specs(render(overlay))
    for name, package in [*SERVICES.items(), ("gateway", "gateway")]:
        (init,) = specs[name]["spec"]["initContainers"]
        assert init["command"] == [
            "python",
            "-m",
            "paymesh_cli",
            "schema-wait",
            "--service",
            package,
        ]
        assert init["image"] == specs[name]["spec"]["containers"][0]["image"]


def _job_name_for(tmp_path: Path, image: str) -> str:
    """The migration Job's name when a release sets the prod overlay's image (name:tag[@digest])
    the way k8s/overlays/prod/kustomization.yaml says (its `images` entry)."""
    k8s = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", k8s)
    kustomization = k8s / "overlays" / "prod" / "kustomization.yaml"
    name, _, tag_digest = image.partition(":")
    tag, _, digest = tag_digest.partition("@")
    text = re.sub(r"newName: .*", f"newName: {name}", kustomization.read_text())
    text = re.sub(r"newTag: .*", f"newTag: {tag}", text)
    text = re.sub(r"digest: .*", f"digest: {digest}" if digest else "", text)
    kustomization.write_text(text)
    (job,) = of_kind(render_dir(kustomization.parent), "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image
    return str(job["metadata"]["name"])


def test_each_release_gets_its_own_migration_job_named_after_its_tag(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    assert _job_name_for(tmp_path / "a", f"reg.invalid/paymesh:4f2a9c1@{digest}") == (
        "paymesh-migrate-4f2a9c1"
    )
    assert _job_name_for(tmp_path / "b", "reg.invalid/paymesh:4f2a9c2") == "paymesh-migrate-4f2a9c2"
    (job,) = of_kind(render("dev"), "Job")
    assert job["metadata"]["name"] == "paymesh-migrate-dev"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "paymesh_cli", "migrate"]
    owner = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "valueFrom" in e
    }
    assert owner["PGUSER"] == owner["PGPASSWORD"] == "paymesh-db-owner"


# --- network flows ------------------------------------------------------------------------


def _pods(resources: tuple[Resource, ...]) -> dict[str, tuple[dict[str, str], set[int]]]:
    """Every pod kind of the namespace: its labels and the ports it listens on."""
    pods = {}
    for name, template in pod_specs(resources).items():
        ports = {
            p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
            if p["name"] != "grpc-health"  # the kubelet's, not a pod's, to reach
        }
        pods[name] = (template["metadata"]["labels"], ports)
    pods["postgres"] = ({"cnpg.io/cluster": "paymesh-pg"}, {5432, 8000})
    pods["nats"] = ({"app.kubernetes.io/name": "nats"}, {4222, 6222, 7777})
    return pods


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_allows(peers: list[dict[str, Any]] | None, labels: dict[str, str]) -> bool:
    if not peers:
        return True  # no `from`/`to`: any peer
    return any(
        "podSelector" in p and "namespaceSelector" not in p and _selects(p["podSelector"], labels)
        for p in peers
    )


def _port_allows(ports: list[dict[str, Any]] | None, port: int) -> bool:
    return not ports or any(p["port"] == port for p in ports)


def _allowed(
    policies: list[Resource], direction: str, me: dict[str, str], peer: dict[str, str], port: int
) -> bool:
    peer_key = "from" if direction == "ingress" else "to"
    for policy in policies:
        spec = policy["spec"]
        if direction.capitalize() not in spec["policyTypes"] or not _selects(
            spec["podSelector"], me
        ):
            continue
        for rule in spec.get(direction, []):
            if _peer_allows(rule.get(peer_key), peer) and _port_allows(rule.get("ports"), port):
                return True
    return False


def flows(overlay: str) -> set[tuple[str, str, int]]:
    resources = render(overlay)
    policies = of_kind(resources, "NetworkPolicy")
    pods = _pods(resources)
    found = set()
    for src, (src_labels, _) in pods.items():
        for dst, (dst_labels, ports) in pods.items():
            for port in ports:
                if _allowed(policies, "egress", src_labels, dst_labels, port) and _allowed(
                    policies, "ingress", dst_labels, src_labels, port
                ):
                    found.add((src, dst, port))
    return found


EXPECTED_FLOWS = {
    ("gateway", "payment-svc", 50051),
    ("gateway", "wallet-svc", 50052),
    ("gateway", "ledger-svc", 50053),
    ("gateway", "notify-svc", 50055),
    ("gateway", "payout-svc", 50056),
    ("gateway", "recon-svc", 50057),
    ("payout-svc", "wallet-svc", 50052),  # its hold RPCs
    ("recon-svc", "payment-svc", 50051),  # its class-1 fixes and refunds
    ("recon-svc", "ledger-svc", 50053),  # the finance queue's bookings (ADR 0025)
    ("gateway", "postgres", 5432),
    ("payment-svc", "postgres", 5432),
    ("wallet-svc", "postgres", 5432),
    ("ledger-svc", "postgres", 5432),
    ("notify-svc", "postgres", 5432),
    ("payout-svc", "postgres", 5432),
    ("recon-svc", "postgres", 5432),
    ("paymesh-migrate-0.1.0", "postgres", 5432),
    ("payment-svc", "nats", 4222),
    ("wallet-svc", "nats", 4222),
    ("ledger-svc", "nats", 4222),
    ("notify-svc", "nats", 4222),
    ("payout-svc", "nats", 4222),
    ("recon-svc", "nats", 4222),
    ("postgres", "postgres", 5432),  # streaming replication
    ("postgres", "postgres", 8000),  # the instance manager's status
    ("nats", "nats", 6222),  # cluster routes
}


def test_prod_allows_exactly_the_flows_of_the_mesh() -> None:
    # flows() reads an unselected pod as denied: true only under a default-deny policy.
    deny_all = named(render("prod"), "NetworkPolicy", "deny-all")["spec"]
    assert deny_all == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert flows("prod") == EXPECTED_FLOWS


def test_dev_adds_only_the_sandbox_psp() -> None:
    dev = {(s.replace("-dev", "-0.1.0"), d, p) for s, d, p in flows("dev")}
    assert dev - EXPECTED_FLOWS == {
        ("payment-svc", "psp-sandbox", 12111),
        ("payout-svc", "psp-sandbox", 12111),
        ("recon-svc", "psp-sandbox", 12111),
        ("psp-sandbox", "gateway", 8080),
    }
    assert EXPECTED_FLOWS - dev == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_payment_and_notify_reach_outside_the_cluster_and_only_on_443(overlay: str) -> None:
    policies = of_kind(render(overlay), "NetworkPolicy")
    outside = {
        policy["metadata"]["name"]: (policy["spec"]["podSelector"], rule["ports"])
        for policy in policies
        for rule in policy["spec"].get("egress", [])
        if any("ipBlock" in peer for peer in rule.get("to", []))
    }
    https = [{"port": 443, "protocol": "TCP"}]
    assert outside == {
        "to-psp": ({"matchLabels": {"paymesh-psp": "true"}}, https),
        # The marketplace's webhook endpoints.
        "to-marketplace": ({"matchLabels": {"paymesh-webhooks": "true"}}, https),
    }
    for label, pods in (
        ("paymesh-psp", ["payment-svc", "payout-svc", "recon-svc"]),
        ("paymesh-webhooks", ["notify-svc"]),
    ):
        labelled = [
            name
            for name, t in pod_specs(render(overlay)).items()
            if t["metadata"]["labels"].get(label)
        ]
        assert labelled == pods


# --- PostgreSQL, NATS, autoscaling, secrets ------------------------------------------------


def test_postgres_has_three_instances_backups_and_a_login_role_per_service() -> None:
    cluster = named(render("prod"), "Cluster", "paymesh-pg")["spec"]
    assert cluster["instances"] == 3
    store = cluster["backup"]["barmanObjectStore"]
    assert store["s3Credentials"]["accessKeyId"]["name"] == "paymesh-backup-s3"
    assert named(render("prod"), "ScheduledBackup", "paymesh-pg-daily")["spec"]["cluster"] == {
        "name": "paymesh-pg"
    }
    assert cluster["bootstrap"]["initdb"]["owner"] == "paymesh_owner"
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    assert set(roles) == set(SERVICES_WITH_SCHEMA)  # one runtime role per schema's service
    for name, role in roles.items():
        assert role["login"] is True and role.get("superuser") is not True
        assert role["passwordSecret"]["name"] == f"paymesh-db-{name.replace('_', '-')}"
    # Each workload connects as its own role.
    for workload, template in pod_specs(render("prod")).items():
        env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
        secret = env["PGUSER"]["valueFrom"]["secretKeyRef"]["name"]
        expected = (
            "paymesh-db-owner"
            if workload.startswith("paymesh-migrate")
            else (f"paymesh-db-{workload}")
        )
        assert secret == expected


def test_streams_are_replicated_three_times_in_prod_once_in_dev() -> None:
    assert (
        named(render("prod"), "ConfigMap", "paymesh-config")["data"]["NATS_STREAM_REPLICAS"] == "3"
    )
    assert (
        named(render("dev"), "ConfigMap", "paymesh-config")["data"]["NATS_STREAM_REPLICAS"] == "1"
    )
    import yaml

    values = yaml.safe_load((ROOT / "k8s" / "nats" / "values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True


def test_consumers_scale_on_the_lag_of_durables_the_code_defines() -> None:
    hpas = {
        h["metadata"]["name"]: h["spec"] for h in of_kind(render("prod"), "HorizontalPodAutoscaler")
    }
    assert [m["type"] for m in hpas["gateway"]["metrics"]] == ["Resource"]
    durables = {
        "payment-svc": EXECUTOR,
        "wallet-svc": CREDIT_CONSUMER,
        "ledger-svc": POST_CONSUMER,
        "notify-svc": EVENTS_CONSUMER,
        "payout-svc": PAYOUT_EXECUTOR,
    }
    for name, durable in durables.items():
        (external,) = [m["external"] for m in hpas[name]["metrics"] if m["type"] == "External"]
        assert external["metric"]["name"] == "nats_consumer_num_pending"
        assert external["metric"]["selector"]["matchLabels"] == {"consumer_name": durable}
    pdbs = {p["metadata"]["name"] for p in of_kind(render("prod"), "PodDisruptionBudget")}
    assert pdbs == {"gateway", *SERVICES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_by_documented_names_never_written(overlay: str) -> None:
    resources = render(overlay)
    assert of_kind(resources, "Secret") == []
    text = repr(resources)
    referenced = set(re.findall(r"'secretName': '([^']+)'", text))
    referenced |= set(re.findall(r"'secretKeyRef': \{'name': '([^']+)'", text))
    referenced |= set(re.findall(r"'passwordSecret': \{'name': '([^']+)'", text))
    referenced |= set(re.findall(r"'secret': \{'name': '([^']+)'", text))
    referenced |= set(re.findall(r"'accessKeyId': \{'name': '([^']+)'", text))
    documented = set(
        re.findall(r"^\| `(paymesh-[a-z0-9-]+)` \|", (ROOT / "k8s" / "README.md").read_text(), re.M)
    )
    assert referenced <= documented, f"not in k8s/README.md: {referenced - documented}"
