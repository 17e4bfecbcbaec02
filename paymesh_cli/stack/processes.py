"""Child processes for the dev stack: spawn with logs to a file, wait for readiness, stop.

Every child is tied to its parent with Linux's parent-death signal (PR_SET_PDEATHSIG), so a
`paymesh dev` or a test session killed with SIGKILL leaves nothing behind. The kernel delivers
that signal when the *thread* that forked the child exits, so spawn from a long-lived thread
(the main thread; not from `asyncio.to_thread`). Children run in their own process group, so a
Ctrl-C in the terminal reaches only the parent, which then stops them in order.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesh.tls import TlsFiles

Probe = Callable[[], Awaitable[bool]]

_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None


class ProcessError(RuntimeError):
    """A child did not start, did not become ready in time, or died."""


def log_size(path: Path) -> int:
    """The current size of a log file (0 if missing): pass it to log_tail as `since`."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_tail(path: Path, lines: int = 40, since: int = 0, max_bytes: int = 64 * 1024) -> str:
    """The last `lines` lines of a log file, written after byte offset `since` ('' if none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(since, size - max_bytes, 0))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            _libc = None
    return _libc


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive `sig` when its parent dies (Linux only)."""
    libc = _load_libc()  # loaded in the parent, not between fork and exec
    if libc is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: tuple[int, int] | None = None,
    death_signal: int = signal.SIGKILL,
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout+stderr appended to `log_path` and stdin closed.

    `user` is (uid, gid) to run as (needs root). `death_signal` is what the child gets when the
    parent dies. The parent-death signal is set after the uid switch (the kernel clears it on a
    credential change, and CPython runs preexec_fn after setuid).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"=== {stamp} paymesh: starting {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=False,
            process_group=0,
            preexec_fn=_die_with_parent(death_signal),
            close_fds=True,
            user=user[0] if user else None,
            group=user[1] if user else None,
            extra_groups=[] if user else None,
        )


def stop_process(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0
) -> int | None:
    """Send `sig`, wait up to `timeout` seconds, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]
    log_start: int = 0  # where this run's output begins in the (appended) log
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    death_signal: int = signal.SIGKILL
    restarts: list[float] = field(default_factory=list)  # monotonic times of restarts

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines, since=self.log_start)

    def describe_exit(self) -> str:
        """'<name> exited (N); last lines of <log>:' followed by the log tail."""
        code = self.returncode
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited ({code})"
        return f"{self.name} {how}; last lines of {self.log_path}:\n{self.log_tail()}"


@dataclass
class Supervisor:
    """Starts named children with logs in `log_dir`, waits for them, stops them in reverse."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        death_signal: int = signal.SIGKILL,
    ) -> Child:
        log_path = self.log_dir / f"{name}.log"
        start = log_size(log_path)
        popen = spawn(argv, log_path=log_path, env=env, cwd=cwd, death_signal=death_signal)
        child = Child(name, list(argv), log_path, popen, start, env, cwd, death_signal)
        self.children.append(child)
        return child

    def restart(self, child: Child) -> Child:
        """Start an exited child again, same command and environment, in its place."""
        start = log_size(child.log_path)
        popen = spawn(
            child.argv,
            log_path=child.log_path,
            env=child.env,
            cwd=child.cwd,
            death_signal=child.death_signal,
        )
        fresh = Child(
            child.name,
            child.argv,
            child.log_path,
            popen,
            start,
            child.env,
            child.cwd,
            child.death_signal,
            [*child.restarts, time.monotonic()],
        )
        self.children[self.children.index(child)] = fresh
        return fresh

    def start_module(self, name: str, module: str, env: Mapping[str, str], **kw: object) -> Child:
        """Run `python -m module` with this interpreter."""
        return self.start(name, [sys.executable, "-m", module], env, **kw)  # type: ignore[arg-type]

    async def wait_ready(
        self, child: Child, probe: Probe, *, within: float = 60.0, interval: float = 0.2
    ) -> float:
        """Poll `probe` until it returns True; returns the seconds it took.

        Raises ProcessError with the log tail if the child exits first or time runs out.
        """
        started = time.monotonic()
        deadline = started + within
        while True:
            if not child.alive():
                raise ProcessError(f"{child.describe_exit()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProcessError(
                    f"{child.name} not ready after {within:.0f}s; last lines of "
                    f"{child.log_path}:\n{child.log_tail()}"
                )
            try:
                ok = await asyncio.wait_for(probe(), timeout=min(2.0, remaining))
            except Exception:
                ok = False
            if ok:
                return time.monotonic() - started
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def first_exited(self) -> Child | None:
        """The first child (in start order) that is no longer running."""
        return next((c for c in self.children if not c.alive()), None)

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM each child in reverse start order, wait up to `timeout`, then SIGKILL."""
        for child in reversed(self.children):
            stop_process(child.popen, signal.SIGTERM, timeout)
        self.children.clear()


# --- readiness probes ---------------------------------------------------------------------


def tcp_probe(host: str, port: int) -> Probe:
    async def probe() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return True

    return probe


def http_probe(url: str) -> Probe:
    """Ready when GET `url` answers 200."""

    async def probe() -> bool:
        import httpx

        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            response = await client.get(url)
        return response.status_code == 200

    return probe


def grpc_health_probe(addr: str, service: str = "", tls: TlsFiles | None = None) -> Probe:
    """Ready when grpc.health.v1.Health/Check(`service`) answers SERVING at `addr` (over
    mutual TLS with `tls`: a server that requires client certificates takes no other call)."""

    async def probe() -> bool:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        from mesh.tls import secure_channel

        options = [("grpc.enable_http_proxy", 0)]
        async with secure_channel(addr, tls, options=options) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2.0)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return probe
