"""Who may do what at the gateway: every route derived from the contracts needs its contract's
scope; rate limits per key and per client address; /readyz detail for ops keys only; operator
actions in the audit log.

The upstream is a real grpc.aio server on 127.0.0.1, port 0, that answers any RPC of the
contracts with an empty response of its type (so a route added to the contracts is walked
without a new fake), recording what it received.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, empty_pb2
from google.protobuf.message_factory import GetMessageClass

import gateway.__main__ as gateway_entry
import gateway.app
from gateway.app import create_app
from gateway.audit import AuditEntry
from gateway.auth import ApiKey
from gateway.routes import FRONTED_SERVICES, MethodRoute, RouteError, derive_routes
from gateway.scopes import SCOPES, UnknownScopeError, checked_scopes, required_scope
from gateway.settings import GatewaySettings
from mesh.cards import contains_card_number

pytestmark = pytest.mark.unit

SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t"
ROUTES = derive_routes()
# A path value every path field of the contracts accepts (ledger accounts, sellers, ids).
PATH_VALUE = "seller_payable"
# Path fields that take something else: a dead letter's sequence, an alert's UUID.
PATH_VALUES = {"seq": "7", "alert_id": "3f2b6c1e-8d4a-4e5b-9c7d-2a1b0c9d8e7f"}
# A valid body for each route that takes one; a new such route needs its sample here.
BODIES: dict[str, dict[str, Any]] = {
    "paymesh.payment.v1.PaymentService.CreatePayment": {
        "checkout_id": "chk-1",
        "buyer_info": {"buyer_id": "buyer-1"},
        "payment_method": "pm_card_visa",
        "payment_orders": [
            {
                "payment_order_id": "po-1",
                "seller_account": "seller-1",
                "amount": "10.50",
                "currency": "USD",
            }
        ],
    },
    "paymesh.payment.v1.RefundService.CreateRefund": {"payment_order_id": "po-1"},
    "paymesh.payment.v1.PaymentService.ErasePersonalData": {},
    "paymesh.notify.v1.NotifyService.CreateWebhookEndpoint": {
        "url": "https://shop.example/paymesh-events",
        "event_types": ["order.succeeded", "checkout.done"],
    },
    "paymesh.notify.v1.NotifyService.DisableWebhookEndpoint": {},
    "paymesh.notify.v1.NotifyService.RedeliverWebhookEvent": {},
    "paymesh.payment.v1.PaymentService.ReleasePaymentOrder": {},
    "paymesh.payout.v1.PayoutService.CreateSeller": {
        "seller_account": "seller-1",
        "destination": "acct_1Seller",
    },
    "paymesh.payout.v1.PayoutService.UpdateSellerSettings": {"destination": "acct_1Seller"},
    "paymesh.payout.v1.PayoutService.CreatePayout": {
        "payout_id": "payout-1",
        "seller_account": "seller-1",
        "amount": "10.00",
        "currency": "USD",
    },
    "paymesh.payout.v1.PayoutService.CreatePayoutRun": {"date": "2026-12-01"},
    "paymesh.recon.v1.ReconService.StartRun": {"period": "2026-12-01"},
    "paymesh.recon.v1.ReconService.ResolveMismatch": {
        "action": "RESOLUTION_ACTION_NOTE",
        "note": "asked the PSP",
    },
    "paymesh.ops.v1.OpsService.AcknowledgeAlert": {},
    "paymesh.ops.v1.OpsService.ReplayDeadLetter": {},
    "paymesh.ops.v1.OpsService.DiscardDeadLetter": {},
}
# Valid query parameters for each route that requires some.
QUERIES: dict[str, dict[str, str]] = {
    "paymesh.ops.v1.OpsService.LookupPayment": {"query": "po-1"},
}


# --- test doubles ---------------------------------------------------------------------------


class Keys:
    """In-memory API keys; `lookups` counts what would be database lookups."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.lookups = 0

    def add(self, scopes: Any, rate_limit: str | None = None) -> str:
        key_id = f"{len(self.keys) + 1:016x}"
        self.keys[key_id] = ApiKey(key_id, "shop", frozenset(scopes), rate_limit)
        return f"pmk_{key_id}_{SECRET}"

    async def verify(self, key_id: str, secret: str) -> ApiKey | None:
        self.lookups += 1
        return self.keys.get(key_id) if secret == SECRET else None


class Audit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class AnyRpc(grpc.GenericRpcHandler):
    """Answers every RPC of the contracts with its empty response; records (method full name,
    invocation metadata)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        service_name, _, name = details.method.lstrip("/").partition("/")  # type: ignore[attr-defined]
        try:
            service = descriptor_pool.Default().FindServiceByName(service_name)
        except KeyError:
            return None
        method = service.methods_by_name[name]
        request_type = GetMessageClass(method.input_type)
        response_type = GetMessageClass(method.output_type)

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self.calls.append((method.full_name, dict(context.invocation_metadata())))
            return response_type()

        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )


@pytest.fixture(scope="module")
def upstream_calls() -> AnyRpc:
    return AnyRpc()


@pytest.fixture(scope="module")
async def channel(upstream_calls: AnyRpc) -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([upstream_calls])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ch = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield ch
    await ch.close()
    await server.stop(0)


class Gateway:
    def __init__(self, channel: grpc.aio.Channel | None, **settings: Any) -> None:
        self.keys = Keys()
        self.audit = Audit()

        async def db_ok() -> None:
            return None

        channels = {s.full_name: channel for s in FRONTED_SERVICES} if channel else None
        self.app = create_app(
            GatewaySettings(upstream_timeout_s=5.0, **settings),
            channels=channels,
            verifier=self.keys,
            db_check=db_ok,
            audit=self.audit,
        )

    def client(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway")


def idempotency_key() -> str:
    while contains_card_number(key := str(uuid.uuid4())):
        pass
    return key


async def call(client: httpx.AsyncClient, route: MethodRoute, key: str | None) -> httpx.Response:
    """One valid request to `route`, with `key` (or none)."""
    path = route.starlette_path
    for name in route.path_params:
        value = PATH_VALUES.get(name, PATH_VALUE)
        path = path.replace(f"{{{name}}}", value).replace(f"{{{name}:path}}", value)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if route.needs_idempotency_key:
        headers["Idempotency-Key"] = idempotency_key()
    body = BODIES.get(route.method.full_name) if route.body else None
    params = QUERIES.get(route.method.full_name)
    return await client.request(route.http_method, path, json=body, headers=headers, params=params)


def reason_and_metadata(response: httpx.Response) -> tuple[str, dict[str, str]]:
    [info] = [d for d in response.json()["error"]["details"] if d["@type"].endswith("ErrorInfo")]
    return info["reason"], info.get("metadata", {})


# --- every route: 401 without a key, 403 without its scope, success with it -------------------


def test_every_route_with_a_body_has_a_sample() -> None:
    missing = [r.method.full_name for r in ROUTES if r.body and r.method.full_name not in BODIES]
    assert not missing, f"add a valid body for {missing} to BODIES"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.http_method} {r.template}")
async def test_every_route_needs_the_scope_its_contract_declares(
    route: MethodRoute, channel: grpc.aio.Channel, upstream_calls: AnyRpc
) -> None:
    scope = required_scope(route.method)
    assert scope in SCOPES
    gw = Gateway(channel)
    everything_else = gw.keys.add(set(SCOPES) - {scope})
    nothing = gw.keys.add(())
    just_it = gw.keys.add({scope})
    upstream_calls.calls.clear()
    async with gw.client() as client:
        anonymous = await call(client, route, None)
        assert anonymous.status_code == 401, anonymous.text

        for key in (everything_else, nothing):
            denied = await call(client, route, key)
            assert denied.status_code == 403, denied.text
            assert reason_and_metadata(denied) == ("SCOPE_MISSING", {"scope": scope})
            assert scope in denied.json()["error"]["message"]
        assert upstream_calls.calls == []

        allowed = await call(client, route, just_it)
    assert allowed.status_code == route.success_status, allowed.text
    [(called, metadata)] = upstream_calls.calls
    assert called == route.method.full_name
    assert metadata["x-paymesh-key-id"] == just_it.split("_")[1]
    assert metadata["x-paymesh-key-scopes"] == scope


async def test_the_caller_s_scopes_go_to_the_upstream_in_a_fixed_order(
    channel: grpc.aio.Channel, upstream_calls: AnyRpc
) -> None:
    gw = Gateway(channel)
    key = gw.keys.add({"ops", "payments:read", "ledger:read"})
    upstream_calls.calls.clear()
    async with gw.client() as client:
        response = await client.get(
            "/v1/checkouts/chk-1", headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 200
    assert upstream_calls.calls[0][1]["x-paymesh-key-scopes"] == "payments:read,ledger:read,ops"


def unscoped_service() -> Any:
    """A service, registered in the default pool, whose public RPC declares no scope."""
    assert empty_pb2.DESCRIPTOR.name in {"google/protobuf/empty.proto"}  # loaded: a dependency
    name = f"scopeless_{uuid.uuid4().hex[:8]}"
    file = descriptor_pb2.FileDescriptorProto(
        name=f"tests/{name}.proto",
        package=f"tests.{name}",
        syntax="proto3",
        dependency=["google/api/annotations.proto", "google/protobuf/empty.proto"],
    )
    service = file.service.add(name="Open")
    method = service.method.add(
        name="Peek", input_type=".google.protobuf.Empty", output_type=".google.protobuf.Empty"
    )
    method.options.Extensions[annotations_pb2.http].get = "/v1/peek"
    descriptor_pool.Default().Add(file)
    return descriptor_pool.Default().FindServiceByName(f"tests.{name}.Open")


def test_a_public_rpc_without_a_scope_stops_the_gateway_from_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway.app, "FRONTED_SERVICES", (*FRONTED_SERVICES, unscoped_service()))
    with pytest.raises(RouteError, match=r"Open\.Peek \(GET /v1/peek\) declares no API-key scope"):
        Gateway(None)


def test_python_m_gateway_says_why_it_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(gateway.app, "FRONTED_SERVICES", (*FRONTED_SERVICES, unscoped_service()))
    # The process's JSON log set-up would replace pytest's handlers for the rest of the run.
    monkeypatch.setattr(gateway_entry, "setup_logging", lambda *args: None)
    assert gateway_entry.main() == 2
    assert "gateway refuses to start" in caplog.text
    assert "declares no API-key scope" in caplog.text


def test_keys_are_issued_with_known_scopes_only() -> None:
    assert checked_scopes(["ops", "payments:write", "ops"]) == ["payments:write", "ops"]
    with pytest.raises(UnknownScopeError, match="unknown scope payments, refunds"):
        checked_scopes(["payments", "refunds", "ops"])


# --- rate limits ----------------------------------------------------------------------------


async def test_a_key_over_its_rate_gets_429_with_retry_after_and_ratelimit_headers(
    channel: grpc.aio.Channel,
) -> None:
    gw = Gateway(channel, rate_limit="2/minute")
    own = gw.keys.add({"payments:read"}, rate_limit="3/minute")
    default = gw.keys.add({"payments:read"})
    async with gw.client() as client:

        async def get(key: str) -> httpx.Response:
            return await client.get("/v1/payments/po-1", headers={"Authorization": f"Bearer {key}"})

        answers = [await get(own) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["RateLimit-Limit"] for a in answers] == ["3"] * 4
        assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert all(1 <= int(a.headers["RateLimit-Reset"]) <= 60 for a in answers)
        limited = answers[-1]
        assert reason_and_metadata(limited)[0] == "RATE_LIMITED"
        assert limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60

        # Another key has its own budget: the gateway's default.
        assert [(await get(default)).status_code for _ in range(3)] == [200, 200, 429]


async def test_failed_authentication_is_limited_per_address_before_any_key_lookup(
    channel: grpc.aio.Channel,
) -> None:
    gw = Gateway(channel, auth_failure_rate_limit="3/minute")
    good = gw.keys.add({"payments:read"})

    def random_key() -> dict[str, str]:
        return {"Authorization": f"Bearer pmk_{uuid.uuid4().hex[:16]}_{SECRET}"}

    async with gw.client("203.0.113.7") as attacker, gw.client("198.51.100.1") as shop:
        assert [(await attacker.get("/v1/payments/po-1")).status_code] == [401]
        tries = [await attacker.get("/v1/payments/po-1", headers=random_key()) for _ in range(2)]
        assert [t.status_code for t in tries] == [403, 403]
        assert gw.keys.lookups == 2

        for _ in range(5):
            refused = await attacker.get("/v1/payments/po-1", headers=random_key())
            assert refused.status_code == 429
            assert reason_and_metadata(refused)[0] == "RATE_LIMITED"
            assert int(refused.headers["Retry-After"]) >= 1
        assert gw.keys.lookups == 2, "no key was looked up once the address was over its limit"

        ok = await shop.get("/v1/payments/po-1", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200, "other addresses are not affected"


# --- /readyz --------------------------------------------------------------------------------


async def test_readyz_detail_is_for_ops_keys_only(channel: grpc.aio.Channel) -> None:
    gw = Gateway(None, payment_grpc_addr="127.0.0.1:1", wallet_grpc_addr="127.0.0.1:1")
    ops = gw.keys.add({"ops"})
    merchant = gw.keys.add(set(SCOPES) - {"ops"})
    async with gw.client() as client:
        for headers in ({}, {"Authorization": f"Bearer {merchant}"}, {"Authorization": "x"}):
            public = await client.get("/readyz", headers=headers)
            assert (public.status_code, public.json()) == (503, {"status": "not_ready"})
        detailed = await client.get("/readyz", headers={"Authorization": f"Bearer {ops}"})
    assert detailed.status_code == 503
    body = detailed.json()
    assert body["checks"]["database"] == "SERVING"
    assert "paymesh.payment.v1.PaymentService" in body["not_ready"]


# --- audit ----------------------------------------------------------------------------------


async def test_every_call_of_an_audited_rpc_is_in_the_audit_log_with_its_key(
    channel: grpc.aio.Channel,
) -> None:
    gw = Gateway(channel)
    checkout_page = gw.keys.add({"payments:write"})
    support = gw.keys.add({"refunds:write"})
    refund = next(r for r in ROUTES if r.method.name == "CreateRefund")
    payment = next(r for r in ROUTES if r.method.name == "CreatePayment")
    async with gw.client() as client:
        denied = await call(client, refund, checkout_page)
        done = await call(client, refund, support)
        anonymous = await call(client, refund, None)
        paid = await call(client, payment, checkout_page)
    assert (denied.status_code, done.status_code, anonymous.status_code) == (403, 202, 401)
    assert paid.status_code == 202
    action = "paymesh.payment.v1.RefundService.CreateRefund"
    assert [(e.key_id, e.action, e.resource, e.outcome) for e in gw.audit.entries] == [
        (checkout_page.split("_")[1], action, "/v1/refunds", 403),
        (support.split("_")[1], action, "/v1/refunds", 202),
    ]
    assert all(uuid.UUID(e.request_id or "") for e in gw.audit.entries)
