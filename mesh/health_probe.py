"""`python -m mesh.health_probe HOST:PORT [SERVICE]`: exit 0 when the gRPC server there answers
SERVING, 1 otherwise. For probes that cannot do mutual TLS themselves (Kubernetes' built-in
gRPC probe cannot): run as an exec probe in the service's own container, it calls over mutual
TLS with the MESH_TLS_* files of that container (plain text when they are not set)."""

from __future__ import annotations

import asyncio
import sys

from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.settings import tls_from_env
from mesh.tls import secure_channel

TIMEOUT_S = 3.0


async def serving(addr: str, service: str = "") -> bool:
    async with secure_channel(addr, tls_from_env()) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S
        )
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print("usage: python -m mesh.health_probe HOST:PORT [SERVICE]", file=sys.stderr)
        return 2
    try:
        ok = asyncio.run(serving(*argv))
    except Exception as err:  # unreachable, refused, timed out: not ready
        print(f"not serving: {type(err).__name__}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
