"""The gateway's Request-Id and figures, in process: httpx -> the Starlette app -> a real
grpc.aio server (mesh GrpcServer, its interceptors) with a fake PaymentService on 127.0.0.1.

What an operator notices: every answer carries a Request-Id (the caller's when sane), the
service's log lines carry the same id, and /metrics (for `ops` keys only) counts the request by
route template and status, and the RPC by method and code."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry import trace
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.auth import ApiKey
from gateway.observed import ObservedRequests
from gateway.scopes import OPS, SCOPES
from gateway.settings import GatewaySettings
from mesh.errors import not_found
from mesh.grpc_server import GrpcServer, error_status, mark_replayed
from mesh.logs import JsonFormatter
from mesh.metrics import BoundedLabel, parse_addr
from mesh.request_ids import new_request_id, sane_request_id
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc

PAYMENT = "paymesh.payment.v1.PaymentService"
KEY_ID, SECRET = "00000000000000aa", "metrics-secret-metrics-secret"
READER_ID = "00000000000000bb"
OPS_KEY = f"pmk_{KEY_ID}_{SECRET}"
READER_KEY = f"pmk_{READER_ID}_{SECRET}"
ORDER_ROUTE = "/v1/payments/{payment_order_id}"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")

service_log = logging.getLogger("tests.fake_payment_svc")


class Keys:
    """An `ops` key holding every scope, and a reader without `ops`."""

    keys = {
        KEY_ID: ApiKey(KEY_ID, "operator", frozenset(SCOPES)),
        READER_ID: ApiKey(READER_ID, "reader", frozenset({"payments:read"})),
    }

    async def verify(self, key_id: str, secret: str) -> ApiKey | None:
        return self.keys.get(key_id) if secret == SECRET else None


class Audit:
    async def record(self, entry: Any) -> None:
        return None


class Payments(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []

    async def GetPaymentOrder(self, request, context):  # type: ignore[no-untyped-def]
        self.metadata.append(dict(context.invocation_metadata()))
        service_log.info("looking up an order")
        if request.payment_order_id == "missing":
            raise not_found("payment_order", request.payment_order_id)
        return payment_pb2.GetPaymentOrderResponse(
            payment_order=payment_pb2.PaymentOrder(payment_order_id=request.payment_order_id)
        )


class Lines(logging.Handler):
    """Formats each record as it is emitted (in the caller's context, as the real handler
    does) with the services' JSON formatter, and keeps the lines."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("payment_svc"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[tuple[GrpcServer, Payments]]:
    payments = Payments()
    server = GrpcServer(
        "127.0.0.1:0",
        [(payment_pb2_grpc.add_PaymentServiceServicer_to_server, payments, PAYMENT)],
    )
    await server.start()
    yield server, payments
    await server.stop(0)


@pytest.fixture
async def client(upstream: tuple[GrpcServer, Payments]) -> AsyncIterator[httpx.AsyncClient]:
    server, _ = upstream
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")

    async def db_ok() -> None:
        return None

    app = create_app(
        GatewaySettings(),
        channels={PAYMENT: channel},
        verifier=Keys(),
        db_check=db_ok,
        audit=Audit(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c
    await channel.close()


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)
    yield handler
    service_log.removeHandler(handler)


def bearer(key: str = OPS_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_sane_request_id_is_echoed_sent_to_the_service_and_on_its_log_lines(
    client: httpx.AsyncClient, upstream: tuple[GrpcServer, Payments], lines: Lines
) -> None:
    _, payments = upstream
    request_id = f"shop-req-{uuid.uuid4().hex}"
    resp = await client.get("/v1/payments/po-1", headers={**bearer(), "X-Request-Id": request_id})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Request-Id"] == request_id
    assert payments.metadata[-1]["x-request-id"] == request_id
    line = next(line for line in lines.lines if line["msg"] == "looking up an order")
    assert line["request_id"] == request_id
    assert line["trace_id"] == ""  # no OpenTelemetry SDK configured: no span records


@pytest.mark.parametrize(
    "incoming",
    [None, "", "has spaces in it", "x" * 200, "4242424242424242", "<script>"],
)
async def test_without_a_sane_request_id_the_gateway_makes_a_uuid(
    client: httpx.AsyncClient, upstream: tuple[GrpcServer, Payments], incoming: str | None
) -> None:
    _, payments = upstream
    headers = bearer() if incoming is None else {**bearer(), "Request-Id": incoming}
    resp = await client.get("/v1/payments/po-2", headers=headers)
    assert resp.status_code == 200
    assert UUID_RE.fullmatch(resp.headers["Request-Id"])
    assert payments.metadata[-1]["x-request-id"] == resp.headers["Request-Id"]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/payments/po-3", {}, 401),
        ("/no/such/route", {}, 404),
        ("/v1/payments/missing", {"Authorization": f"Bearer {OPS_KEY}"}, 404),
        ("/healthz", {}, 200),
    ],
)
async def test_every_answer_carries_a_request_id_errors_included(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> None:
    resp = await client.get(path, headers=headers)
    assert resp.status_code == status
    assert UUID_RE.fullmatch(resp.headers["Request-Id"])


async def test_metrics_count_requests_by_route_template_and_rpcs_by_method_and_code(
    client: httpx.AsyncClient,
) -> None:
    ok_http = {"route": ORDER_ROUTE, "method": "GET", "code": "200"}
    missing_http = {**ok_http, "code": "404"}
    rpc = {"grpc_service": PAYMENT, "grpc_method": "GetPaymentOrder"}
    before = (
        sample("paymesh_http_requests_total", **ok_http),
        sample("paymesh_http_requests_total", **missing_http),
        sample("paymesh_grpc_server_handled_total", **rpc, grpc_code="OK"),
        sample("paymesh_grpc_server_handled_total", **rpc, grpc_code="NOT_FOUND"),
        sample("paymesh_http_request_duration_seconds_count", route=ORDER_ROUTE, method="GET"),
    )
    for order in ("po-a", "po-b", "missing"):
        await client.get(f"/v1/payments/{order}", headers=bearer())

    rpc_missing_labels = {**rpc, "grpc_code": "NOT_FOUND"}
    # The server counts an RPC as it finishes, which can be just after its caller has the
    # answer (a refused call most of all): scrape until that last count is in, then compare.
    for _ in range(100):
        resp = await client.get("/metrics", headers=bearer())
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain")
        scraped = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text)
            for s in family.samples
        }
        key = ("paymesh_grpc_server_handled_total", tuple(sorted(rpc_missing_labels.items())))
        if scraped.get(key, 0.0) >= before[3] + 1:
            break
        await asyncio.sleep(0.05)

    def scraped_value(name: str, labels: dict[str, str]) -> float:
        return scraped.get((name, tuple(sorted(labels.items()))), 0.0)

    assert scraped_value("paymesh_http_requests_total", ok_http) == before[0] + 2
    assert scraped_value("paymesh_http_requests_total", missing_http) == before[1] + 1
    rpc_ok = {**rpc, "grpc_code": "OK"}
    rpc_missing = {**rpc, "grpc_code": "NOT_FOUND"}
    assert scraped_value("paymesh_grpc_server_handled_total", rpc_ok) == before[2] + 2
    assert scraped_value("paymesh_grpc_server_handled_total", rpc_missing) == before[3] + 1
    latency = {"route": ORDER_ROUTE, "method": "GET"}
    assert scraped_value("paymesh_http_request_duration_seconds_count", latency) == before[4] + 3
    # Never a raw path (an order id) as a label value.
    assert "po-a" not in resp.text


@pytest.mark.parametrize(("key", "status"), [(None, 401), (READER_KEY, 403)])
async def test_metrics_are_for_ops_keys_only(
    client: httpx.AsyncClient, key: str | None, status: int
) -> None:
    resp = await client.get("/metrics", headers=bearer(key) if key else {})
    assert resp.status_code == status
    assert "paymesh_" not in resp.text
    if status == 403:
        assert resp.json()["error"]["details"][0]["metadata"]["scope"] == OPS


async def test_a_rate_limited_key_is_counted() -> None:
    async def db_ok() -> None:
        return None

    app = create_app(
        GatewaySettings(rate_limit="1/minute"),
        channels={},
        verifier=Keys(),
        db_check=db_ok,
        audit=Audit(),
    )
    before = sample("paymesh_gateway_rate_limited_total", limit="key")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        first = await c.get("/metrics", headers=bearer(READER_KEY))
        second = await c.get("/metrics", headers=bearer(READER_KEY))
    assert (first.status_code, second.status_code) == (403, 429)
    assert sample("paymesh_gateway_rate_limited_total", limit="key") == before + 1


def test_request_ids_fit_for_a_header_and_a_log_line() -> None:
    assert sane_request_id("  abc-123_x.y:z  ") == "abc-123_x.y:z"
    assert sane_request_id("a b") is None
    assert sane_request_id("4111 1111 1111 1111") is None
    assert sane_request_id("4111111111111111") is None  # a card number is never echoed
    assert sane_request_id("é") is None


def test_labels_from_outside_stay_bounded() -> None:
    label = BoundedLabel(["insufficient_funds"], limit=3)
    assert label("insufficient_funds") == "insufficient_funds"
    assert label("lost_card") == "lost_card"
    assert label("stolen_card") == "stolen_card"
    assert label("expired_card") == "other"  # past the limit
    assert label("Robert'); DROP") == "other"


def test_metrics_addresses() -> None:
    assert parse_addr("127.0.0.1:9101") == ("127.0.0.1", 9101)
    assert parse_addr("[::1]:0") == ("::1", 0)
    for bad in ("9101", "host:", "host:port", "h:70000"):
        with pytest.raises(ValueError):
            parse_addr(bad)


def test_replayed_answers_and_errors_are_counted() -> None:
    class Context:
        def set_trailing_metadata(self, metadata: Any) -> None:
            self.trailers = metadata

    answers = sample("paymesh_idempotency_replays_total", kind="answer")
    errors = sample("paymesh_idempotency_replays_total", kind="error")
    mark_replayed(Context())  # type: ignore[arg-type]
    refused = not_found("payment_order", "po-1")
    error_status(refused)  # a first answer: not a replay
    refused.replayed = True
    error_status(refused)
    assert sample("paymesh_idempotency_replays_total", kind="answer") == answers + 1
    assert sample("paymesh_idempotency_replays_total", kind="error") == errors + 1


async def test_an_unhandled_error_is_a_500_with_its_request_id_and_no_trace() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret internals")

    app = ObservedRequests(broken)
    before = sample("paymesh_http_requests_total", route="unmatched", method="GET", code="500")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        resp = await c.get("/anything", headers={"Request-Id": "req-42"})
    assert resp.status_code == 500
    assert resp.headers["Request-Id"] == "req-42"
    assert "secret" not in resp.text
    assert resp.json()["error"]["status"] == "INTERNAL"
    after = sample("paymesh_http_requests_total", route="unmatched", method="GET", code="500")
    assert after == before + 1


def test_new_request_ids_are_distinct_version_4_uuids() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_a_log_line_carries_the_trace_id_of_the_current_span() -> None:
    handler = Lines()
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=trace.TraceFlags(1),
        )
    )
    service_log.addHandler(handler)
    try:
        with trace.use_span(span):
            service_log.warning("inside a span")
        service_log.warning("outside any span")
    finally:
        service_log.removeHandler(handler)
    inside, outside = handler.lines
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert outside["trace_id"] == ""
