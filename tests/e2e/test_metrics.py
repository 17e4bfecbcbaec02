"""What an operator scrapes from `paymesh dev`: a checkout paid through the gateway moves the
gateway's and payment_svc's figures (the route, the order reaching SUCCESS, the PSP charge, the
executor's acks), each service announces where its /metrics is, and the Request-Id the gateway
answered with is on its log line for that request. And one checkout is one trace: with
OTEL_EXPORTER_OTLP_ENDPOINT pointed at a real OTLP/gRPC receiver, the spans of one paid checkout
(gateway, CreatePayment, the executor and its PSP call, the flags, wallet_svc and ledger_svc)
share one trace id and their parent links form one tree rooted at the gateway's span."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from devstack import check, dev_stack, new_order, pay, wait_done
from otlp_receiver import ReceivedSpan, otlp_receiver
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

SERVICES = ("payment_svc", "wallet_svc", "ledger_svc")


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """One stack for the module, with tracing on and exporting to a real OTLP/gRPC receiver (so
    the metrics are also read with tracing on, as production runs them)."""
    with otlp_receiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: the test waits less for the batches
        }
        with dev_stack(tmp_path_factory.mktemp("stack") / "data", env) as running:
            yield running, receiver
            report = check(running)
            assert report["ok"], report["violations"]


@pytest.fixture(scope="module")
def stack(traced):
    return traced[0]


def log_lines(stack, service: str) -> list[dict]:
    text = (stack.data_dir / "logs" / f"{service}.log").read_text(errors="replace")
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # a line the process wrote before its JSON logging was set up
    return lines


def metrics_url(stack, service: str) -> str:
    """Where the service said, in its log at start, that it serves /metrics."""
    urls = [line["metrics_url"] for line in log_lines(stack, service) if "metrics_url" in line]
    assert urls, f"{service} never logged its metrics address"
    return urls[-1]


def scrape(url: str, **headers: str) -> dict[tuple[str, tuple], float]:
    resp = httpx.get(url, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_service_serves_its_own_metrics(stack):
    urls = {service: metrics_url(stack, service) for service in SERVICES}
    assert len(set(urls.values())) == len(SERVICES)
    for service, url in urls.items():
        assert url.startswith("http://127.0.0.1:"), url
        # Every service runs consumers and an outbox; the sampler reports them every 10 s (a
        # consumer created after its first round shows at the next).
        deadline = time.monotonic() + 15
        while True:
            names = {name for name, _ in scrape(url)}
            if "paymesh_consumer_pending_messages" in names or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert {"paymesh_consumer_pending_messages", "paymesh_outbox_backlog_events"} <= names, (
            service
        )


def test_a_paid_checkout_moves_the_figures(stack):
    client = stack.client
    gateway_metrics = f"{stack.url}/metrics"
    auth = client.headers["Authorization"]
    payment_metrics = metrics_url(stack, "payment_svc")
    route = {"route": "/v1/payments", "method": "POST", "code": "202"}
    before_gw = scrape(gateway_metrics, Authorization=auth)
    before_pay = scrape(payment_metrics)

    body, resp = pay(client, [new_order(amount="12.00"), new_order(amount="3.50")])
    assert resp.status_code == 202, resp.text
    wait_done(client, body["checkout_id"])

    after_gw = scrape(gateway_metrics, Authorization=auth)
    assert value(after_gw, "paymesh_http_requests_total", **route) == (
        value(before_gw, "paymesh_http_requests_total", **route) + 1
    )
    latency = {"route": "/v1/payments", "method": "POST"}
    assert value(after_gw, "paymesh_http_request_duration_seconds_count", **latency) > value(
        before_gw, "paymesh_http_request_duration_seconds_count", **latency
    )

    # The acks of the wallet and ledger answers may land a moment after is_payment_done.
    deadline = time.monotonic() + 10
    while True:
        after_pay = scrape(payment_metrics)
        moved = {
            "orders reached SUCCESS": value(
                after_pay, "paymesh_payment_order_transitions_total", status="SUCCESS"
            )
            - value(before_pay, "paymesh_payment_order_transitions_total", status="SUCCESS"),
            "charges ok": value(
                after_pay, "paymesh_psp_requests_total", kind="charge", outcome="ok"
            )
            - value(before_pay, "paymesh_psp_requests_total", kind="charge", outcome="ok"),
            "executor acks": value(
                after_pay, "paymesh_consumer_acks_total", durable="payment-executor"
            )
            - value(before_pay, "paymesh_consumer_acks_total", durable="payment-executor"),
            "CreatePayment OK": value(
                after_pay,
                "paymesh_grpc_server_handled_total",
                grpc_service="paymesh.payment.v1.PaymentService",
                grpc_method="CreatePayment",
                grpc_code="OK",
            )
            - value(
                before_pay,
                "paymesh_grpc_server_handled_total",
                grpc_service="paymesh.payment.v1.PaymentService",
                grpc_method="CreatePayment",
                grpc_code="OK",
            ),
        }
        expected = {
            "orders reached SUCCESS": 2,
            "charges ok": 2,
            "executor acks": 2,
            "CreatePayment OK": 1,
        }
        if moved == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert moved == expected
    assert value(after_pay, "paymesh_psp_request_duration_seconds_count", kind="charge") >= 2


def test_the_request_id_is_answered_and_on_the_services_log_lines(stack):
    request_id = f"e2e-{uuid.uuid4().hex}"
    body, _ = pay(stack.client, [new_order(amount="1.00")])
    wait_done(stack.client, body["checkout_id"])
    resp = stack.client.get(
        f"/v1/checkouts/{body['checkout_id']}", headers={"Request-Id": "not a sane id!"}
    )
    assert resp.status_code == 200
    assert resp.headers["Request-Id"] and resp.headers["Request-Id"] != "not a sane id!"

    # The gateway logs every request it answers, under the id it answered with.
    resp = stack.client.get(
        f"/v1/checkouts/{body['checkout_id']}", headers={"X-Request-Id": request_id}
    )
    assert resp.headers["Request-Id"] == request_id
    lines = [line for line in log_lines(stack, "gateway") if line.get("request_id") == request_id]
    assert [line["route"] for line in lines] == ["/v1/checkouts/{checkout_id}"]
    # The module's stack traces (see `traced`): the line names its trace.
    assert len(lines[0]["trace_id"]) == 32 and int(lines[0]["trace_id"], 16)


SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # opentelemetry.proto.trace.v1.Span.SpanKind

# (service, span name, kind) that a paid checkout's trace must hold.
EXPECTED = {
    ("gateway", "POST /v1/payments", SERVER),
    ("gateway", "/paymesh.payment.v1.PaymentService/CreatePayment", CLIENT),
    ("payment_svc", "/paymesh.payment.v1.PaymentService/CreatePayment", SERVER),
    ("payment_svc", "payment.order.created publish", PRODUCER),
    ("payment_svc", "payment.order.created process", CONSUMER),  # the executor
    ("payment_svc", "PSP charge", CLIENT),
    ("payment_svc", "payment.order.succeeded publish", PRODUCER),
    ("wallet_svc", "payment.order.succeeded process", CONSUMER),
    ("ledger_svc", "payment.order.succeeded process", CONSUMER),
    ("payment_svc", "wallet.credited process", CONSUMER),  # the wallet flag
    ("payment_svc", "ledger.posted process", CONSUMER),  # the ledger flag
}


def complete(spans: list[ReceivedSpan]) -> bool:
    """Every expected span arrived, and every parent named is there."""
    seen = {(s.service, s.name, s.kind) for s in spans}
    ids = {s.span_id for s in spans}
    return EXPECTED <= seen and all(not s.parent_span_id or s.parent_span_id in ids for s in spans)


def test_a_paid_checkout_is_one_trace_with_one_tree(traced):
    stack, receiver = traced
    body, resp = pay(stack.client, [new_order(amount="12.34")])
    assert resp.status_code == 202, resp.text
    request_id = resp.headers["Request-Id"]
    wait_done(stack.client, body["checkout_id"])

    # The root: the gateway's span for this request, found by its request id.
    root_span = receiver.find(
        lambda s: s.service == "gateway" and s.attributes.get("paymesh.request_id") == request_id
    )
    assert root_span is not None, f"no gateway span for request {request_id}"
    spans = receiver.wait_for(complete, root_span.trace_id)

    seen = {(s.service, s.name, s.kind) for s in spans}
    assert EXPECTED <= seen, f"missing: {EXPECTED - seen}"
    # One tree: a single root (the gateway's span), every other span's parent in the trace, and
    # every span reachable from the root.
    roots = [s for s in spans if not s.parent_span_id]
    assert roots == [root_span]
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans)
    for span in spans:
        hops = 0
        while span.parent_span_id:
            assert span.parent_span_id in by_id, f"{span.name} has a parent outside the trace"
            span = by_id[span.parent_span_id]
            hops += 1
            assert hops < len(spans), "a cycle in the parent links"
        assert span.span_id == root_span.span_id

    # The causal chain, hop by hop: the PSP call inside the executor's consumption of the
    # created event, whose producer is inside CreatePayment; the wallet and ledger consume the
    # succeeded event the executor produced. (A delivery the executor retried, a PSP call that
    # timed out on a loaded machine, are more spans of the same kind: all must hang right.)
    def named(service: str, name: str) -> list[ReceivedSpan]:
        return [s for s in spans if s.service == service and s.name == name]

    (create,) = named("payment_svc", "/paymesh.payment.v1.PaymentService/CreatePayment")
    (created,) = named("payment_svc", "payment.order.created publish")
    assert created.parent_span_id == create.span_id
    executors = {s.span_id for s in named("payment_svc", "payment.order.created process")}
    assert all(
        s.parent_span_id == created.span_id
        for s in named("payment_svc", "payment.order.created process")
    )
    charges = named("payment_svc", "PSP charge")
    assert all(c.parent_span_id in executors for c in charges)
    assert "ok" in {c.attributes["paymesh.psp.outcome"] for c in charges}
    (succeeded,) = named("payment_svc", "payment.order.succeeded publish")
    assert succeeded.parent_span_id in executors
    for service in ("wallet_svc", "ledger_svc"):
        consumed = named(service, "payment.order.succeeded process")
        assert consumed and all(s.parent_span_id == succeeded.span_id for s in consumed)

    # The gateway's log line for the request names the request id and the trace.
    log = (stack.data_dir / "logs" / "gateway.log").read_text(errors="replace").splitlines()
    lines = [json.loads(raw) for raw in log if request_id in raw and raw.startswith("{")]
    assert any(line.get("trace_id") == root_span.trace_id for line in lines), lines
