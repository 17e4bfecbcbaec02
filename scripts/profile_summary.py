"""Where a process's CPU goes, by library: reads py-spy's collapsed stacks
(`py-spy record --format raw --pid P --duration S -o FILE`) and prints the share of samples whose
innermost paymesh-or-library frame belongs to each group (SQLAlchemy, psycopg, gRPC, NATS,
protobuf, asyncio, the stripe SDK, our own code by package, ...).

Issue 9's note uses it to say what stands between the code and a CPU target: the share of a
process's samples times its CPU ms per order (from `paymesh bench`) is the ms per order each
library costs.

    python scripts/profile_summary.py payment.txt [--top 15]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (group, pattern on a frame's file path); the first that matches wins, checked from the
# innermost frame outwards, so a psycopg call made by SQLAlchemy counts as psycopg.
GROUPS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("psycopg (driver, wire protocol)", r"/psycopg(_c|_binary|_pool)?/"),
        ("SQLAlchemy (statement build, compile, result rows)", r"/sqlalchemy/"),
        ("gRPC (server, client, interceptors)", r"/grpc/|/grpc_|_cython/_cygrpc"),
        ("protovalidate (CEL rules)", r"/protovalidate/|/celpy/|/cel_"),
        ("protobuf (encode, decode, Any)", r"/google/protobuf/"),
        ("NATS client", r"/nats/"),
        ("stripe SDK + HTTP client", r"/stripe/|/httpx/|/httpcore/|/h11/|/requests/|/urllib3/"),
        ("OpenTelemetry", r"/opentelemetry/"),
        ("prometheus client", r"/prometheus_client/"),
        ("logging, structlog", r"/logging/|/structlog/"),
        ("json", r"/json/|orjson"),
        ("asyncio event loop", r"/asyncio/|uvloop"),
        ("paymesh: mesh/", r"/mesh/"),
        ("paymesh: payment_svc/", r"/payment_svc/"),
        ("paymesh: wallet_svc/", r"/wallet_svc/"),
        ("paymesh: ledger_svc/", r"/ledger_svc/"),
        ("paymesh: notify_svc/", r"/notify_svc/"),
        ("paymesh: gateway/", r"/gateway/"),
        ("paymesh: other", r"/(payout_svc|recon_svc|paymesh_cli|gen)/"),
    ]
]
FRAME_FILE = re.compile(r"\(([^)]*)\)")


def group_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        found = FRAME_FILE.search(frame)
        # py-spy shortens paths to the package ("json/encoder.py:225"): a leading "/" lets
        # every pattern match a package at the start as well as inside a longer path.
        path = "/" + (found.group(1) if found else frame)
        for name, pattern in GROUPS:
            if pattern.search(path):
                return name
    return "interpreter, other"


def summarise(lines: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        stack, _, n = line.rstrip().rpartition(" ")
        if stack and n.isdigit():
            counts[group_of(stack)] += int(n)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collapsed", type=Path, help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    counts = summarise(args.collapsed.read_text().splitlines())
    total = sum(counts.values()) or 1
    print(f"{total} samples in {args.collapsed}")
    for name, n in counts.most_common(args.top):
        print(f"{100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
