"""The published contracts: the OpenAPI document committed in docs/ is the one the gateway
serves, gen/ builds into a package of its own, paymesh's wheel carries what the image needs,
and `python -m paymesh_cli` is the `paymesh` command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import grpc

from gateway.app import create_app
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]


class NoKeys:
    async def verify(self, key_id: str, secret: str) -> None:
        return None


async def _ok() -> None:
    return None


async def test_the_committed_openapi_document_is_the_one_the_gateway_serves() -> None:
    channel = grpc.aio.insecure_channel("127.0.0.1:9")  # never called: the document is static
    try:
        channels = {
            name: channel
            for name in (
                "paymesh.payment.v1.PaymentService",
                "paymesh.payment.v1.RefundService",
                "paymesh.wallet.v1.WalletService",
                "paymesh.ledger.v1.LedgerService",
            )
        }
        app = create_app(GatewaySettings(), channels=channels, verifier=NoKeys(), db_check=_ok)
        committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
        assert app.state.openapi == committed
    finally:
        await channel.close()


def _wheel(source: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def test_gen_builds_into_the_contracts_package_on_its_own(tmp_path: Path) -> None:
    staging = tmp_path / "gen"
    shutil.copytree(
        ROOT / "gen", staging, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    names = set(_wheel(staging, tmp_path / "dist").namelist())
    assert "paymesh/payment/v1/payment_pb2.py" in names
    assert "paymesh/payment/v1/payment_pb2_grpc.py" in names
    assert "paymesh/payment/v1/payment_pb2.pyi" in names
    assert "buf/validate/validate_pb2.py" in names
    assert {"paymesh/py.typed", "buf/py.typed"} <= names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert metadata.startswith("paymesh_contracts-")


def test_paymeshs_wheel_carries_every_migration_and_the_typing_markers(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil_ignore = (
        "__pycache__",
        "build",
        "*.egg-info",
        ".venv*",
        ".git",
        ".paymesh",
        "tests",
        ".k8s-rendered",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    )
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*shutil_ignore))
    names = set(_wheel(source, tmp_path / "dist").namelist())
    for package in ("payment_svc", "wallet_svc", "ledger_svc", "notify_svc", "gateway"):
        for version in (ROOT / package / "migrations" / "versions").glob("*.py"):
            assert f"{package}/migrations/versions/{version.name}" in names
        assert f"{package}/migrations/env.py" in names
        assert f"{package}/migrations/script.py.mako" in names
        assert f"{package}/py.typed" in names
    assert "paymesh/payment/v1/payment_pb2.py" in names  # gen/ is inside


def test_python_m_paymesh_cli_is_the_paymesh_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paymesh_cli", "--help"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("Usage: paymesh ")
    for command in ("dev", "migrate", "schema-wait", "check"):
        assert f"  {command} " in result.stdout
