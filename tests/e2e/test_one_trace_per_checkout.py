"""One checkout is one trace: `paymesh dev` with OTEL_EXPORTER_OTLP_ENDPOINT pointed at a real
OTLP/gRPC receiver exports, for one paid checkout, spans from the gateway, payment_svc (the
CreatePayment call, the executor's consumption and its PSP call, the flags), wallet_svc and
ledger_svc, all of one trace id, whose parent links form one tree rooted at the gateway's span;
and the gateway's log line for the request carries the request id and that trace id."""

from __future__ import annotations

import json

import pytest
from devstack import check, dev_stack, new_order, pay, wait_done
from otlp_receiver import ReceivedSpan, otlp_receiver

pytestmark = pytest.mark.e2e

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


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    with otlp_receiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: the test waits less for the batches
        }
        with dev_stack(tmp_path_factory.mktemp("traced") / "data", env) as stack:
            yield stack, receiver
            report = check(stack)
            assert report["ok"], report["violations"]


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
