"""The gateway's Starlette application: derived routes, OpenAPI, health, JSON errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

import grpc
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.access import Gatekeeper
from gateway.api_keys import SCHEMA, DbApiKeyVerifier
from gateway.audit import AuditLog, DbAuditLog
from gateway.auth import ApiKeyVerifier
from gateway.comments import proto_comments
from gateway.console import console_routes
from gateway.endpoints import EndpointContext, make_endpoint
from gateway.errors import error_response, internal_response
from gateway.health import DbCheck, engine_check, healthz, make_readyz
from gateway.metrics_route import PATH as METRICS_PATH
from gateway.metrics_route import make_metrics_endpoint
from gateway.observed import ObservedRequests
from gateway.openapi import build_openapi
from gateway.rate_limits import RateLimits
from gateway.routes import FRONTED_SERVICES, derive_routes
from gateway.scopes import check_route_scopes
from gateway.settings import GatewaySettings
from gateway.traced import TracedRequests
from gateway.upstream import Upstreams, upstream_addresses
from gateway.webhooks import (
    CONNECT_PATH,
    make_stripe_connect_webhook_endpoint,
    make_stripe_webhook_endpoint,
)
from gateway.webhooks import PATH as STRIPE_WEBHOOK_PATH
from mesh import tracing
from mesh.db import make_engine
from mesh.errors import Code, ServiceError

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown route (404) and wrong method (405), as AIP-193 JSON."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = ServiceError(Code.NOT_FOUND, "NOT_FOUND", "no such route")
    elif exc.status_code == 405:
        err = ServiceError(
            Code.UNIMPLEMENTED,
            "METHOD_NOT_ALLOWED",
            f"{request.method} is not allowed here",
            metadata={"allow": (exc.headers or {}).get("Allow", "")},
        )
    else:
        err = ServiceError(Code.UNKNOWN, "HTTP_ERROR", exc.detail)
    return error_response(err, headers=dict(exc.headers or {}))


async def _unhandled(request: Request, exc: Exception) -> Response:
    return internal_response()


def create_app(
    settings: GatewaySettings,
    *,
    channels: Mapping[str, grpc.aio.Channel] | None = None,
    verifier: ApiKeyVerifier | None = None,
    db_check: DbCheck | None = None,
    audit: AuditLog | None = None,
) -> Starlette:
    """The gateway. `channels` (by service full name, e.g. "paymesh.payment.v1.PaymentService")
    replace the channels made from the settings; `verifier`, `db_check` and `audit` replace the
    database-backed key verifier, readiness check and audit log. Given channels are not closed
    here. Raises gateway.routes.RouteError when a contract cannot be served safely (a public
    RPC without a scope)."""
    derived = derive_routes(FRONTED_SERVICES)
    check_route_scopes(derived)
    engine = None
    if verifier is None or db_check is None or audit is None:
        engine = make_engine(settings.database_url, SCHEMA, pool_size=5, application_name="gateway")
    verifier = verifier or DbApiKeyVerifier(engine, ttl_s=settings.api_key_cache_ttl_s)  # type: ignore[arg-type]
    db_check = db_check or engine_check(engine)  # type: ignore[arg-type]
    audit = audit or DbAuditLog(engine)  # type: ignore[arg-type]
    upstreams = Upstreams(
        upstream_addresses(settings),
        channels,
        timeout_s=settings.upstream_timeout_s,
        tls=settings.tls,
    )
    gatekeeper = Gatekeeper(
        verifier, RateLimits(settings.rate_limit, settings.auth_failure_rate_limit)
    )
    context = EndpointContext(upstreams, gatekeeper, audit, settings.max_body_bytes)
    openapi = build_openapi(derived, proto_comments(FRONTED_SERVICES))

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(openapi)

    routes = [
        Route(r.starlette_path, make_endpoint(r, context), methods=[r.http_method]) for r in derived
    ]
    routes += [
        Route(
            STRIPE_WEBHOOK_PATH,
            make_stripe_webhook_endpoint(upstreams, settings.max_body_bytes),
            methods=["POST"],
        ),
        Route(
            CONNECT_PATH,
            make_stripe_connect_webhook_endpoint(upstreams, settings.max_body_bytes),
            methods=["POST"],
        ),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", make_readyz(db_check, upstreams, gatekeeper.is_ops), methods=["GET"]),
        Route(METRICS_PATH, make_metrics_endpoint(gatekeeper), methods=["GET"]),
        *console_routes(),  # the operator console's static page (gateway.console)
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("gateway serving %d routes", len(derived))
        try:
            yield
        finally:
            await upstreams.close()
            if engine is not None:
                await engine.dispose()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unhandled},
        lifespan=lifespan,
        # Request id, count and latency of every answer, errors included; inside it, a span
        # of each when tracing is on.
        middleware=[
            Middleware(ObservedRequests),
            *([Middleware(TracedRequests)] if tracing.enabled() else []),
        ],
    )
    app.router.redirect_slashes = False  # an API answers 404, not a redirect
    app.state.openapi = openapi
    app.state.routes = derived
    app.state.upstreams = upstreams
    app.state.gatekeeper = gatekeeper
    return app
