"""The route table, derived from the `google.api.http` annotations of the fronted services.

Nothing here names a URL by hand: each RPC's `HttpRule` (and its additional bindings) gives the
HTTP method, the path template, which request fields come from the path, and whether the body
maps to the whole request (`body: "*"`), to one field, or to nothing (query parameters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from paymesh.ledger.v1 import ledger_pb2
from paymesh.notify.v1 import notify_pb2
from paymesh.ops.v1 import ops_pb2
from paymesh.payment.v1 import payment_pb2, psp_webhooks_pb2, refunds_pb2
from paymesh.payout.v1 import payout_pb2
from paymesh.recon.v1 import recon_pb2
from paymesh.wallet.v1 import wallet_pb2

PAYMENT_SERVICE = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"]
WALLET_SERVICE = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"]
LEDGER_SERVICE = ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"]
REFUND_SERVICE = refunds_pb2.DESCRIPTOR.services_by_name["RefundService"]
NOTIFY_SERVICE = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]
PAYOUT_SERVICE = payout_pb2.DESCRIPTOR.services_by_name["PayoutService"]
RECON_SERVICE = recon_pb2.DESCRIPTOR.services_by_name["ReconService"]
OPS_SERVICE = ops_pb2.DESCRIPTOR.services_by_name["OpsService"]
# Called by the webhook route only (gateway.webhooks), never through derived routes.
PSP_WEBHOOK_SERVICE = psp_webhooks_pb2.DESCRIPTOR.services_by_name["PspWebhookService"]
FRONTED_SERVICES: tuple[ServiceDescriptor, ...] = (
    PAYMENT_SERVICE,
    REFUND_SERVICE,
    WALLET_SERVICE,
    LEDGER_SERVICE,
    NOTIFY_SERVICE,
    PAYOUT_SERVICE,
    RECON_SERVICE,
    OPS_SERVICE,
)

# Success statuses that are not 200: creation is accepted, its execution is asynchronous.
SUCCESS_STATUS: Mapping[str, int] = {
    "paymesh.payment.v1.PaymentService.CreatePayment": 202,
    "paymesh.payment.v1.RefundService.CreateRefund": 202,
    "paymesh.payment.v1.PaymentService.ReleasePaymentOrder": 202,
    "paymesh.payout.v1.PayoutService.CreatePayout": 202,
    # A run is carried out in the background; GET /v1/recon/runs/{run_id} follows it.
    "paymesh.recon.v1.ReconService.StartRun": 202,
}

# The AIP-155 idempotency field of mutating requests, filled from this header only.
IDEMPOTENCY_FIELD = "request_id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class MethodRoute:
    """One HTTP binding of one RPC."""

    method: MethodDescriptor
    http_method: str  # "GET", "POST", ...
    template: str  # as annotated, "/v1/payments/{payment_order_id}"
    starlette_path: str  # "/v1/payments/{payment_order_id}", "{name:path}" for multi-segment
    path_params: Mapping[str, str]  # Starlette parameter name -> request field path
    body: str  # "" (none), "*" (whole request) or a field name
    response_body: str  # "" (whole response) or a field name
    success_status: int

    @property
    def path(self) -> str:
        """The OpenAPI path: the template with every variable reduced to `{field.path}`."""
        return _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", self.template)

    @property
    def service(self) -> ServiceDescriptor:
        return self.method.containing_service

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, "/paymesh.payment.v1.PaymentService/CreatePayment"."""
        return f"/{self.service.full_name}/{self.method.name}"

    @property
    def request_type(self) -> type[Message]:
        return GetMessageClass(self.method.input_type)

    @property
    def response_type(self) -> type[Message]:
        return GetMessageClass(self.method.output_type)

    @property
    def needs_idempotency_key(self) -> bool:
        return (
            self.http_method in MUTATING
            and IDEMPOTENCY_FIELD in self.method.input_type.fields_by_name
        )

    def query_fields(self) -> list[str]:
        """Top-level request fields a client may set with query parameters: none when the body
        is the whole request; otherwise every scalar field not bound to the path or body."""
        if self.body == "*":
            return []
        bound = {p.split(".", 1)[0] for p in self.path_params.values()} | {self.body}
        return [
            fd.name
            for fd in self.method.input_type.fields
            if fd.name not in bound and fd.name != IDEMPOTENCY_FIELD and fd.message_type is None
        ]


class RouteError(ValueError):
    """An annotation the gateway cannot serve."""


def _http_bindings(rule: http_pb2.HttpRule) -> Iterable[http_pb2.HttpRule]:
    yield rule
    yield from rule.additional_bindings


def _field_exists(message: Descriptor, path: str) -> bool:
    for i, part in enumerate(path.split(".")):
        fd = message.fields_by_name.get(part)
        if fd is None:
            return False
        if i < path.count("."):
            if fd.message_type is None:
                return False
            message = fd.message_type
    return True


def _convert_template(method: MethodDescriptor, template: str) -> tuple[str, dict[str, str]]:
    params: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        field_path, pattern = match.group(1), match.group(2)
        if not _field_exists(method.input_type, field_path):
            raise RouteError(
                f"{method.full_name}: path variable {field_path!r} is no request field"
            )
        name = field_path.replace(".", "__")
        params[name] = field_path
        # A multi-segment pattern ("shelves/*/books/**") may span slashes.
        return f"{{{name}:path}}" if pattern and pattern not in ("*",) else f"{{{name}}}"

    return _VARIABLE.sub(replace, template), params


def method_routes(method: MethodDescriptor) -> list[MethodRoute]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    routes = []
    for rule in _http_bindings(options.Extensions[annotations_pb2.http]):
        kind = rule.WhichOneof("pattern")
        if kind is None or kind == "custom":
            raise RouteError(f"{method.full_name}: unsupported HTTP pattern {kind!r}")
        template = getattr(rule, kind)
        path, params = _convert_template(method, template)
        if rule.body not in ("", "*") and rule.body not in method.input_type.fields_by_name:
            raise RouteError(f"{method.full_name}: body {rule.body!r} is no request field")
        routes.append(
            MethodRoute(
                method=method,
                http_method=kind.upper(),
                template=template,
                starlette_path=path,
                path_params=params,
                body=rule.body,
                response_body=rule.response_body,
                success_status=SUCCESS_STATUS.get(method.full_name, 200),
            )
        )
    return routes


def derive_routes(services: Iterable[ServiceDescriptor] = FRONTED_SERVICES) -> list[MethodRoute]:
    """Every HTTP binding of every annotated RPC of `services`, in declaration order."""
    routes = [r for service in services for m in service.methods for r in method_routes(m)]
    seen: set[tuple[str, str]] = set()
    for r in routes:
        key = (r.http_method, r.path)
        if key in seen:
            raise RouteError(f"two RPCs bound to {r.http_method} {r.template}")
        seen.add(key)
    return routes
