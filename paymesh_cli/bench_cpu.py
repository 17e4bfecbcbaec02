"""CPU time of every process of a running stack, read from /proc, so the benchmark can say how
many milliseconds of CPU each part spends per settled order.

The stack is found from the ports it listens on, not from names: the process listening on the
gateway's port is the gateway, its parent is the `paymesh dev` supervisor whose children are the
services and the sandbox; the processes listening on PostgreSQL's and NATS's ports are the
postmaster and nats-server. Another stack on the same machine is never counted.

A process group's CPU is the user + system time of its live processes plus the time of the
children its root has reaped (`cutime + cstime`), so PostgreSQL backends that come and go
between two samples are still counted, once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_s: float  # utime + stime of the process itself
    children_cpu_s: float  # cutime + cstime: its reaped children


def read_stat(pid: int, proc: Path = PROC) -> ProcStat | None:
    """The process's CPU times, or None when it is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ProcStat(pid, ppid, (utime + stime) / TICKS_PER_S, (cutime + cstime) / TICKS_PER_S)


def all_pids(proc: Path = PROC) -> list[int]:
    return [int(p.name) for p in proc.iterdir() if p.name.isdigit()]


def children_of(root: int, stats: Iterable[ProcStat]) -> set[int]:
    """`root` and every live descendant of it."""
    by_parent: dict[int, list[int]] = {}
    for st in stats:
        by_parent.setdefault(st.ppid, []).append(st.pid)
    found, todo = {root}, [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pid_listening_on(port: int, proc: Path = PROC) -> int | None:
    """The process that owns the listening socket on `port`, if we may see it."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for pid in all_pids(proc):
        fd_dir = proc / str(pid) / "fd"
        try:
            for fd in fd_dir.iterdir():
                try:
                    if os.readlink(fd) in wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


_MODULE = re.compile(r"(?:^|\x00)-m\x00([A-Za-z_][\w.]*)")


def process_label(pid: int, proc: Path = PROC) -> str:
    """`payment_svc` for `python -m payment_svc`, else the executable's name."""
    try:
        cmdline = (proc / str(pid) / "cmdline").read_text()
    except OSError:
        return f"pid {pid}"
    match = _MODULE.search(cmdline)
    if match:
        return match.group(1)
    first = cmdline.split("\x00", 1)[0]
    name = os.path.basename(first) or f"pid {pid}"
    return "paymesh dev" if name in {"paymesh", "python", "python3"} else name


@dataclass(frozen=True)
class StackProcesses:
    """Named groups of processes: label -> root pids (their live descendants count too); a
    service run as several replicas (`paymesh dev --replicas`) is one label with a root each."""

    roots: Mapping[str, tuple[int, ...]]

    def replicas(self) -> dict[str, int]:
        """label -> how many processes, for the labels with more than one."""
        return {label: len(pids) for label, pids in self.roots.items() if len(pids) > 1}


def find_stack(gateway_port: int, postgres_port: int, nats_port: int) -> StackProcesses:
    """The groups of one running stack, by the ports it listens on. Parts that cannot be
    found (a stack on other machines, another user's processes) are left out."""
    roots: dict[str, tuple[int, ...]] = {}
    for label, port in (("postgresql", postgres_port), ("nats", nats_port)):
        pid = pid_listening_on(port)
        if pid is not None:
            roots[label] = (pid,)
    stats = [s for s in (read_stat(p) for p in all_pids()) if s is not None]
    gateway = pid_listening_on(gateway_port)
    supervisor = next((s.ppid for s in stats if s.pid == gateway), None)
    if supervisor:
        # The supervisor may have started PostgreSQL and NATS too: each is counted once, under
        # its own name, found above by its port.
        taken = {pid for pids in roots.values() for pid in pids}
        for st in stats:
            if st.ppid == supervisor and st.pid not in taken:
                label = process_label(st.pid)
                roots[label] = (*roots.get(label, ()), st.pid)
    return StackProcesses(roots)


def sample(stack: StackProcesses) -> dict[str, float]:
    """CPU seconds used so far by each group of the stack."""
    stats = {s.pid: s for s in (read_stat(p) for p in all_pids()) if s is not None}
    out: dict[str, float] = {}
    for label, pids in stack.roots.items():
        for root in pids:
            if root not in stats:
                continue
            group = children_of(root, stats.values())
            used = stats[root].children_cpu_s + sum(stats[p].cpu_s for p in group)
            out[label] = out.get(label, 0.0) + used
    return out


def per_order_ms(
    before: Mapping[str, float], after: Mapping[str, float], orders: int
) -> dict[str, float]:
    """CPU milliseconds per settled order of each group present in both samples."""
    if orders <= 0:
        return {}
    return {
        label: round((after[label] - before[label]) * 1000.0 / orders, 2)
        for label in sorted(after)
        if label in before
    }
