"""The sandbox's ASGI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from psp_sandbox.errors import API_ERROR, INVALID_REQUEST, ApiError
from psp_sandbox.routes import PaymentIntentRoutes
from psp_sandbox.settings import SandboxSettings
from psp_sandbox.store import SandboxStore

log = logging.getLogger("psp_sandbox")


def create_app(settings: SandboxSettings) -> Starlette:
    """A Stripe-compatible PaymentIntents API; its state is loaded and saved in the lifespan."""
    store = SandboxStore(settings.state_file)
    intents = PaymentIntentRoutes(store, settings.api_key_prefix)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store.open()
        try:
            yield
        finally:
            store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/payment_intents", intents.create, methods=["POST"]),
            Route("/v1/payment_intents", intents.list, methods=["GET"]),
            Route("/v1/payment_intents/{intent}", intents.retrieve, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"Unrecognized request URL ({request.method}: {request.url.path})."
    if exc.status_code == 405:
        message = f"The {request.method} method is not allowed on {request.url.path}."
    body = {"error": {"type": INVALID_REQUEST, "message": message}}
    return JSONResponse(body, status_code=exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {"error": {"type": API_ERROR, "message": "The sandbox hit an unexpected error."}}
    return JSONResponse(body, status_code=500)
