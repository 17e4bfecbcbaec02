"""`POST /v1/webhooks/stripe`: the PSP's event notifications.

No API key: the `Stripe-Signature` header is the proof of origin, and only payment_svc holds the
secret that checks it, so the body is forwarded byte for byte (re-encoding it would break the
signature). The answer tells the PSP whether to deliver again: 2xx done (applied, ignored, or
stored as a MISMATCH with its order), 400 never (a bad or stale signature, or a genuine event
refused as malformed or from the future), 5xx later.
"""

from __future__ import annotations

import logging

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.endpoints import Endpoint, answered, read_body
from gateway.routes import PAYMENT_SERVICE, PSP_WEBHOOK_SERVICE
from gateway.upstream import Upstreams
from mesh.errors import FieldViolation, invalid_argument
from paymesh.payment.v1 import psp_webhooks_pb2

log = logging.getLogger(__name__)

PATH = "/v1/webhooks/stripe"
SIGNATURE_HEADER = "Stripe-Signature"
RPC_PATH = f"/{PSP_WEBHOOK_SERVICE.full_name}/HandleStripeWebhook"


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
