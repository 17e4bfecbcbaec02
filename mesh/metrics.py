"""Every Prometheus figure paymesh exports, in one place (docs/adr/0011-metrics.md).

Names start with `paymesh_`; labels take a few known values each (a route template, an RPC
method, a status, a durable name), never an id, so the number of series stays bounded. The hot
path keeps the labelled children it made (`Children`) instead of asking `.labels()` again.

The gateway serves these at `/metrics` (to `ops` keys); each service serves them on its own
listener, `<PREFIX>_METRICS_ADDR` (`serve_metrics`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Generic, TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client import start_http_server as _start_http_server

from mesh.logs import log_fields

log = logging.getLogger(__name__)

# The `_created` series double every counter for a timestamp nobody graphs.
disable_created_metrics()

# From 5 ms (a cached gateway refusal) to 30 s (a slow PSP behind the upstream deadline).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- requests and RPCs -------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "paymesh_http_requests_total",
    "Requests answered by the gateway, by route template, method and HTTP status.",
    ["route", "method", "code"],
)
HTTP_LATENCY = Histogram(
    "paymesh_http_request_duration_seconds",
    "Time from a request's arrival at the gateway to its answer, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "paymesh_gateway_rate_limited_total",
    "Requests the gateway refused with 429: `key` (an API key over its rate) or "
    "`auth_failures` (an address that failed to authenticate too often).",
    ["limit"],
)
RPCS = Counter(
    "paymesh_grpc_server_handled_total",
    "Unary RPCs a service answered, by gRPC service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_LATENCY = Histogram(
    "paymesh_grpc_server_handling_seconds",
    "Time a service took to answer a unary RPC, by gRPC service and method.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
IDEMPOTENCY_REPLAYS = Counter(
    "paymesh_idempotency_replays_total",
    "Stored answers given again to a repeated idempotent request: `answer` or `error`.",
    ["kind"],
)

# --- payments ------------------------------------------------------------------------------

ORDER_TRANSITIONS = Counter(
    "paymesh_payment_order_transitions_total",
    "Payment orders entering a status (counted once the change is committed).",
    ["status"],
)
REFUND_TRANSITIONS = Counter(
    "paymesh_refund_transitions_total",
    "Refunds entering a status (counted once the change is committed).",
    ["status"],
)
PAYOUT_TRANSITIONS = Counter(
    "paymesh_payout_transitions_total",
    "Payouts entering a status (payout_svc; counted once the change is committed).",
    ["status"],
)
PSP_REQUESTS = Counter(
    "paymesh_psp_requests_total",
    "Calls to the PSP by kind (charge, retrieve, search, refund, ...) and outcome: `ok`, "
    "`declined`, `rejected` (never retried), `unavailable` (retried), `timeout`.",
    ["kind", "outcome"],
)
PSP_LATENCY = Histogram(
    "paymesh_psp_request_duration_seconds",
    "Time one PSP call took, by kind.",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
PSP_DECLINES = Counter(
    "paymesh_psp_declines_total",
    "Charges the PSP declined, by decline code (unknown codes past a few dozen are `other`).",
    ["code"],
)
PSP_WEBHOOKS = Counter(
    "paymesh_psp_webhooks_total",
    "PSP webhook deliveries by event type and result: applied, duplicate, ignored, "
    "mismatch (genuine but not the order's intent, amount or currency), refused (genuine but "
    "malformed or from the future), invalid_signature, busy (asked to deliver again), error.",
    ["type", "result"],
)
PSP_BREAKER_STATE = Gauge(
    "paymesh_psp_breaker_state",
    "The PSP circuit breaker of a payment service process: 0 closed, 1 half-open (probing), "
    "2 open (PSP calls refused, orders wait in their queue).",
)
PSP_BREAKER_REFUSALS = Counter(
    "paymesh_psp_breaker_refusals_total",
    "PSP calls not made: `open` (the breaker is open or probing) or `draining` (over the "
    "bounded rate while the queue drains after an outage).",
    ["reason"],
)

RISK_PROVIDER_CALLS = Counter(
    "paymesh_risk_provider_calls_total",
    "Calls to the remote risk provider by result: allow, deny, timeout, unreachable, error (a "
    "5xx, 429 or unreadable answer), breaker_open (not made: it kept failing).",
    ["result"],
)
RISK_PROVIDER_FALLBACKS = Counter(
    "paymesh_risk_provider_fallbacks_total",
    "Checkouts decided without the remote risk provider (it was away): `local_rules` (at or "
    "under the fallback limit, proceeded on the local rules) or `deferred` (larger: 503 with "
    "Retry-After). Each is also recorded in payment.risk_decisions.",
    ["decision"],
)

# --- webhooks to the marketplace (notify_svc) ----------------------------------------------

MARKETPLACE_WEBHOOK_ATTEMPTS = Counter(
    "paymesh_marketplace_webhook_attempts_total",
    "POSTs of events to the marketplace's endpoints, by event type and result: delivered "
    "(2xx), retry (failed, tried again later), gave_up (failed, retry schedule exhausted).",
    ["type", "result"],
)
MARKETPLACE_WEBHOOK_LATENCY = Histogram(
    "paymesh_marketplace_webhook_attempt_seconds",
    "Time from sending an event to a marketplace endpoint to its answer (or the error).",
    buckets=LATENCY_BUCKETS,
)
MARKETPLACE_ENDPOINTS_DISABLED = Counter(
    "paymesh_marketplace_webhook_endpoints_disabled_total",
    "Marketplace endpoints disabled because they kept failing (not those disabled by hand).",
)

# --- messaging ------------------------------------------------------------------------------

CONSUMER_DELIVERIES = Counter(
    "paymesh_consumer_deliveries_total",
    "Messages handed to a durable JetStream consumer's handler (redeliveries included).",
    ["durable"],
)
CONSUMER_REDELIVERIES = Counter(
    "paymesh_consumer_redeliveries_total",
    "Deliveries of a message that was delivered before (after a nak, a timeout or a crash).",
    ["durable"],
)
CONSUMER_ACKS = Counter(
    "paymesh_consumer_acks_total", "Messages a durable consumer handled and acked.", ["durable"]
)
CONSUMER_NAKS = Counter(
    "paymesh_consumer_naks_total",
    "Messages a durable consumer failed to handle and asked to get again later.",
    ["durable"],
)
CONSUMER_DEAD_LETTERS = Counter(
    "paymesh_consumer_dead_letters_total",
    "Messages a durable consumer sent to the dead-letter stream: undecodable, poison, "
    "retries_exhausted.",
    ["durable", "reason"],
)
CONSUMER_PENDING = Gauge(
    "paymesh_consumer_pending_messages",
    "Messages of a durable consumer's stream not yet delivered to it (its lag), sampled.",
    ["durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "paymesh_consumer_ack_pending_messages",
    "Messages delivered to a durable consumer and not acked yet, sampled.",
    ["durable"],
)
OUTBOX_BACKLOG = Gauge(
    "paymesh_outbox_backlog_events",
    "Committed outbox events not yet published to NATS, by schema, sampled.",
    ["schema"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "paymesh_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none), by schema, sampled.",
    ["schema"],
)

# --- alerts -----------------------------------------------------------------------------------

ALERTS_RAISED = Counter(
    "paymesh_alerts_raised_total",
    "Alerts a service's checks opened (mesh.alerts), by kind: outbox_stuck, consumer_lag, "
    "dead_letters, psp_breaker_open, order_unsettled, refund_unsettled, order_unannounced, "
    "payout_stuck, payout_failing, webhook_endpoint_disabled.",
    ["kind"],
)
ALERTS_ACTIVE = Gauge(
    "paymesh_alerts_active",
    "Alerts holding now as a service's last round of checks found them, by kind.",
    ["kind"],
)

# --- reconciliation ---------------------------------------------------------------------------

RECON_RUNS = Counter(
    "paymesh_recon_runs_total",
    "Reconciliation runs finished (recon_svc), by status: succeeded, failed.",
    ["status"],
)
RECON_MISMATCHES = Counter(
    "paymesh_recon_mismatches_total",
    "Mismatches reconciliation runs found, by class (1 fixed automatically, 2 needs a person, "
    "3 unclassifiable) and by type; a mismatch a later run of the same day finds again is "
    "counted again (the finance queue keeps each once).",
    ["mismatch_class", "type"],
)

M = TypeVar("M", Counter, Gauge, Histogram)


class Children(Generic[M]):
    """The labelled children of one metric, made once per label values and kept: the hot path
    pays a dict lookup, not `.labels()`'s validation and lock."""

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


_SANE_LABEL = re.compile(r"[a-z0-9_.]{1,64}")


class BoundedLabel:
    """A label value from outside (a PSP's decline code, an event type): kept as it is while
    it looks like a code and fewer than `limit` distinct ones were seen, else `other`, so a
    misbehaving PSP cannot blow up the number of series."""

    def __init__(self, known: Iterable[str] = (), limit: int = 50) -> None:
        self._seen = set(known)
        self._limit = limit
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not _SANE_LABEL.fullmatch(value):
            return "other"
        with self._lock:
            if len(self._seen) >= self._limit:
                return "other"
            self._seen.add(value)
        return value


def parse_addr(addr: str) -> tuple[str, int]:
    """ "host:port" as (host, port); ValueError when it is not one."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{addr!r} is not host:port")
    return host.strip("[]"), int(port)


class MetricsListener:
    """A service's `/metrics` over HTTP, on a thread of its own (prometheus-client's server):
    a scrape never waits for the event loop."""

    def __init__(self, addr: str) -> None:
        host, port = parse_addr(addr)
        self._server, self._thread = _start_http_server(port, host, registry=REGISTRY)
        self.host = host
        self.port = int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(addr: str) -> MetricsListener | None:
    """Start the metrics listener on `addr` ("host:port"; port 0: any free one); None when
    `addr` is empty (metrics not served). The address is logged for the operator."""
    if not addr:
        log.info("metrics not served (no metrics address set)")
        return None
    listener = MetricsListener(addr)
    log.info("metrics on %s", listener.url, extra=log_fields(metrics_url=listener.url))
    return listener
