"""The sandbox's ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from psp_sandbox import background
from psp_sandbox.accounts import AccountRoutes
from psp_sandbox.balance_routes import BalanceTransactionRoutes
from psp_sandbox.charges import ChargeRoutes
from psp_sandbox.checkout_sessions import CheckoutSessionRoutes
from psp_sandbox.context import SandboxContext
from psp_sandbox.delivery_routes import DeliveryRoutes
from psp_sandbox.discrepancies import DiscrepancyRoutes
from psp_sandbox.errors import API_ERROR, INVALID_REQUEST, ApiError
from psp_sandbox.event_routes import EventRoutes
from psp_sandbox.fault_routes import FaultRoutes
from psp_sandbox.file_routes import FileRoutes
from psp_sandbox.hosted_page import HostedPage
from psp_sandbox.payouts import PayoutRoutes
from psp_sandbox.platform_payouts import PlatformPayoutRoutes
from psp_sandbox.refunds import RefundRoutes
from psp_sandbox.reporting_routes import ReportingRoutes
from psp_sandbox.reports import ReportRoutes
from psp_sandbox.risk_provider import RiskProviderRoutes
from psp_sandbox.routes import PaymentIntentRoutes
from psp_sandbox.settings import SandboxSettings
from psp_sandbox.store import SandboxStore
from psp_sandbox.webhooks import WebhookSender

log = logging.getLogger("psp_sandbox")


def create_app(settings: SandboxSettings, clock: Callable[[], float] = time.time) -> Starlette:
    """A Stripe-compatible API; its state is loaded in the lifespan, and its clockwork (actions
    completing later, webhooks) runs there."""
    store = SandboxStore(settings.state_file)
    context = SandboxContext.create(settings, store, clock)
    intents = PaymentIntentRoutes(context)
    events = EventRoutes(context)
    faults = FaultRoutes(context)
    refunds = RefundRoutes(context)
    charges = ChargeRoutes(context)
    payouts = PayoutRoutes(context)
    accounts = AccountRoutes(context)
    sessions = CheckoutSessionRoutes(context)
    page = HostedPage(context)
    balance = BalanceTransactionRoutes(context)
    reports = ReportRoutes(context)
    deliveries = DeliveryRoutes(context)
    reporting = ReportingRoutes(context)
    files = FileRoutes(context)
    seeded = DiscrepancyRoutes(context)
    platform_payouts = PlatformPayoutRoutes(context)
    risk = RiskProviderRoutes(context)  # not the PSP: a risk provider for payment_svc to call

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store.open()
        sender = WebhookSender(
            store,
            settings.webhook_url,
            settings.webhook_secret,
            settings.webhook_retry_base_s,
            clock,
            settings.connect_webhook_url,
            settings.connect_webhook_secret,
        )
        ticking = asyncio.create_task(background.run(context, sender))
        try:
            yield
        finally:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
            await sender.aclose()
            store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/payment_intents", intents.create, methods=["POST"]),
            Route("/v1/payment_intents", intents.list, methods=["GET"]),
            # Before /{intent}, which would otherwise take "search" for an id.
            Route("/v1/payment_intents/search", intents.search, methods=["GET"]),
            Route("/v1/payment_intents/{intent}", intents.retrieve, methods=["GET"]),
            Route("/v1/payment_intents/{intent}/confirm", intents.confirm, methods=["POST"]),
            Route("/v1/refunds", refunds.create, methods=["POST"]),
            Route("/v1/refunds", refunds.list, methods=["GET"]),
            Route("/v1/refunds/{id}", refunds.retrieve, methods=["GET"]),
            Route("/v1/charges/{id}", charges.retrieve, methods=["GET"]),
            Route("/v1/accounts", accounts.create, methods=["POST"]),
            Route("/v1/accounts", accounts.list, methods=["GET"]),
            Route("/v1/accounts/{account}", accounts.retrieve, methods=["GET"]),
            Route("/v1/transfers", payouts.create_transfer, methods=["POST"]),
            Route("/v1/payouts", payouts.create_payout, methods=["POST"]),
            Route("/v1/payouts", payouts.list, methods=["GET"]),
            Route("/v1/payouts/{id}", payouts.retrieve, methods=["GET"]),
            Route("/v1/payouts/{id}/cancel", payouts.cancel, methods=["POST"]),
            Route("/v1/checkout/sessions", sessions.create, methods=["POST"]),
            Route("/v1/checkout/sessions/{id}", sessions.retrieve, methods=["GET"]),
            # The buyer's browser, not an API client: no API key.
            Route("/pay/{session}", page.show, methods=["GET"]),
            Route("/pay/{session}", page.pay, methods=["POST"]),
            Route("/v1/events", events.list, methods=["GET"]),
            Route("/v1/events/{id}", events.retrieve, methods=["GET"]),
            Route("/v1/balance_transactions", balance.list, methods=["GET"]),
            Route("/v1/balance_transactions/{id}", balance.retrieve, methods=["GET"]),
            Route("/v1/reporting/report_types", reporting.list_types, methods=["GET"]),
            Route("/v1/reporting/report_types/{id}", reporting.retrieve_type, methods=["GET"]),
            Route("/v1/reporting/report_runs", reporting.create_run, methods=["POST"]),
            Route("/v1/reporting/report_runs", reporting.list_runs, methods=["GET"]),
            Route("/v1/reporting/report_runs/{id}", reporting.retrieve_run, methods=["GET"]),
            Route("/v1/files/{id}", files.retrieve, methods=["GET"]),
            Route("/v1/files/{id}/contents", files.contents, methods=["GET"]),
            Route("/_sandbox/reports/settlement", reports.settlement, methods=["GET"]),
            Route("/_sandbox/discrepancies", seeded.list, methods=["GET"]),
            Route("/_sandbox/discrepancies", seeded.seed, methods=["POST"]),
            Route("/_sandbox/platform_payouts", platform_payouts.create, methods=["POST"]),
            Route("/_sandbox/webhook_deliveries", deliveries.list, methods=["GET"]),
            Route("/_sandbox/faults", faults.read, methods=["GET"]),
            Route("/_sandbox/faults", faults.replace, methods=["POST"]),
            Route("/_sandbox/faults", faults.reset, methods=["DELETE"]),
            Route("/v1/risk/assessments", risk.assess, methods=["POST"]),
            Route("/_sandbox/risk_faults", risk.read_faults, methods=["GET"]),
            Route("/_sandbox/risk_faults", risk.set_faults, methods=["POST"]),
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
