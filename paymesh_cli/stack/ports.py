"""Free TCP ports on 127.0.0.1 and the small helpers around them."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

HOST = "127.0.0.1"


# Ports are picked below the kernel's ephemeral range: a port the kernel picks (bind to 0) is
# one it also hands to outgoing connections, so between the pick and the server's bind a
# client's connection to PostgreSQL or NATS could take it ("Address already in use" at start,
# seen with several replicas). Below the range only another picker can collide, at random.
_LOWEST_PICK = 20_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now, below the ephemeral range (still racy between
    two pickers, but never with an outgoing connection)."""
    high = _ephemeral_low()
    if high - _LOWEST_PICK > 1_000:
        for _ in range(200):
            port = random.randrange(_LOWEST_PICK, high)
            if port_is_free(port, host):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))  # the kernel's pick, when the range leaves no room below it
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when `port` can be bound on `host` (nothing listens there)."""
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port_except(avoid: Iterable[int] = (), host: str = HOST) -> int:
    """A free port that is not in `avoid` (ports handed out but not bound yet)."""
    taken = set(avoid)
    for _ in range(100):
        port = free_port(host)
        if port not in taken:
            return port
    raise RuntimeError("no free TCP port found")


def reuse_or_free_port(recorded: int | None, avoid: Iterable[int] = (), host: str = HOST) -> int:
    """The port recorded by an earlier run if it is still free, else a fresh free one."""
    taken = set(avoid)
    if recorded is not None and recorded not in taken and port_is_free(recorded, host):
        return recorded
    return free_port_except(taken, host)


def port_of_url(url: str | None, host: str = HOST) -> int | None:
    """The port of a URL such as `postgresql://postgres@127.0.0.1:5432/x`, if its host is `host`."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        if parts.hostname != host:
            return None
        return parts.port
    except ValueError:
        return None
