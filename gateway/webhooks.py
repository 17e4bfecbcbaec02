"""`POST /v1/webhooks/stripe`: the PSP's event notifications, and
`POST /v1/webhooks/stripe-connect`: its Connect endpoint's (`payout.*` events of connected
accounts, for payout_svc; Stripe signs a Connect endpoint with a secret of its own).

No API key: the `Stripe-Signature` header is the proof of origin, and only the service behind
the route (payment_svc, payout_svc) holds the secret that checks it, so the body is forwarded
byte for byte (re-encoding it would break the signature). The answer tells the PSP whether to
deliver again: 2xx done (applied, ignored, or a MISMATCH with its order or payout), 400 never
(a bad or stale signature, or a genuine event refused as malformed or from the future), 5xx
later.
"""

from __future__ import annotations

import logging

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.endpoints import Endpoint, answered, read_body
from gateway.routes import PAYMENT_SERVICE, PAYOUT_SERVICE, PSP_WEBHOOK_SERVICE
from gateway.upstream import Upstreams
from mesh.errors import FieldViolation, invalid_argument
from paymesh.payment.v1 import psp_webhooks_pb2
from paymesh.payout.v1 import payout_webhooks_pb2

log = logging.getLogger(__name__)

PATH = "/v1/webhooks/stripe"
SIGNATURE_HEADER = "Stripe-Signature"
RPC_PATH = f"/{PSP_WEBHOOK_SERVICE.full_name}/HandleStripeWebhook"
CONNECT_PATH = "/v1/webhooks/stripe-connect"
PAYOUT_WEBHOOK_SERVICE = payout_webhooks_pb2.DESCRIPTOR.services_by_name["PayoutWebhookService"]
CONNECT_RPC_PATH = f"/{PAYOUT_WEBHOOK_SERVICE.full_name}/HandleStripeConnectWebhook"


def make_stripe_webhook_endpoint(upstreams: Upstreams, max_body_bytes: int) -> Endpoint:
    async def handle(request: Request) -> Response:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise invalid_argument(
                [FieldViolation(SIGNATURE_HEADER, "required", "the signature header is missing")],
                "WEBHOOK_SIGNATURE_INVALID",
            )
        payload = await read_body(request, max_body_bytes)
        # The webhook service lives in payment_svc: the same channel as PaymentService.
        reply = await upstreams.unary(
            PAYMENT_SERVICE.full_name,
            RPC_PATH,
            psp_webhooks_pb2.HandleStripeWebhookRequest(payload=payload, signature=signature),
            psp_webhooks_pb2.HandleStripeWebhookResponse,
        )
        body = json_format.MessageToDict(reply.message, preserving_proto_field_name=True)
        return JSONResponse({"received": True, **body})

    async def stripe_webhook(request: Request) -> Response:
        return await answered(
            lambda: handle(request), what=f"POST {PATH}", service=PAYMENT_SERVICE.name
        )

    return stripe_webhook


def make_stripe_connect_webhook_endpoint(upstreams: Upstreams, max_body_bytes: int) -> Endpoint:
    """The Connect endpoint's deliveries, to payout_svc (its PayoutWebhookService shares the
    PayoutService channel); the same answers as the pay-in route."""

    async def handle(request: Request) -> Response:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise invalid_argument(
                [FieldViolation(SIGNATURE_HEADER, "required", "the signature header is missing")],
                "WEBHOOK_SIGNATURE_INVALID",
            )
        payload = await read_body(request, max_body_bytes)
        reply = await upstreams.unary(
            PAYOUT_SERVICE.full_name,
            CONNECT_RPC_PATH,
            payout_webhooks_pb2.HandleStripeConnectWebhookRequest(
                payload=payload, signature=signature
            ),
            payout_webhooks_pb2.HandleStripeConnectWebhookResponse,
        )
        body = json_format.MessageToDict(reply.message, preserving_proto_field_name=True)
        return JSONResponse({"received": True, **body})

    async def stripe_connect_webhook(request: Request) -> Response:
        return await answered(
            lambda: handle(request), what=f"POST {CONNECT_PATH}", service=PAYOUT_SERVICE.name
        )

    return stripe_connect_webhook
