"""`GET /metrics` on the gateway: the Prometheus text format of this process's figures, for a
key holding the `ops` scope only (the figures say how the business goes; the port is public).
Prometheus sends the key as a bearer token (docs/adr/0011-metrics.md)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from gateway.access import Gatekeeper
from gateway.endpoints import Endpoint, answered
from gateway.scopes import OPS

PATH = "/metrics"


def make_metrics_endpoint(gatekeeper: Gatekeeper) -> Endpoint:
    async def handle(request: Request) -> Response:
        await gatekeeper.admit(request, OPS)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def metrics(request: Request) -> Response:
        response = await answered(lambda: handle(request), what=f"GET {PATH}", service="gateway")
        quota = getattr(request.state, "quota", None)
        if quota is not None:
            response.headers.update(quota.headers())
        return response

    return metrics
