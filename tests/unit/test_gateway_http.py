"""The gateway over HTTP, in process: httpx -> Starlette app -> in-process grpc.aio fakes.

The fakes (servicers, API-key verifier) live here; the gRPC servers are real (mesh GrpcServer
with its interceptor and health service) on 127.0.0.1, port 0.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import timestamp_pb2

from gateway.app import create_app
from gateway.audit import AuditEntry
from gateway.auth import ApiKey
from gateway.scopes import SCOPES
from gateway.settings import GatewaySettings
from mesh.cards import contains_card_number
from mesh.errors import Code, FieldViolation, ServiceError, invalid_argument, not_found
from mesh.grpc_server import GrpcServer, mark_replayed
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh.notify.v1 import notify_pb2_grpc
from paymesh.ops.v1 import ops_pb2, ops_pb2_grpc
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc, refunds_pb2, refunds_pb2_grpc
from paymesh.payout.v1 import payout_pb2_grpc
from paymesh.recon.v1 import recon_pb2_grpc
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from paymesh_cli.stack.ports import free_port

pytestmark = pytest.mark.unit

PAYMENT = "paymesh.payment.v1.PaymentService"
REFUND = "paymesh.payment.v1.RefundService"
WALLET = "paymesh.wallet.v1.WalletService"
LEDGER = "paymesh.ledger.v1.LedgerService"
NOTIFY = "paymesh.notify.v1.NotifyService"
PAYOUT = "paymesh.payout.v1.PayoutService"
RECON = "paymesh.recon.v1.ReconService"
OPS = "paymesh.ops.v1.OpsService"
KEY_ID = "0123456789abcdef"
SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t"
GOOD_KEY = f"pmk_{KEY_ID}_{SECRET}"
WRONG_KEY = f"pmk_{KEY_ID}_not-the-secret-at-all-no"
CARDS = ("4242 4242 4242 4242", "4111111111111111", "4242424242424242")


# --- test doubles ---------------------------------------------------------------------------


class FakeVerifier:
    """In-memory API keys; GOOD_KEY holds every scope. `lookups` counts what would be database
    lookups."""

    def __init__(self) -> None:
        self.keys = {KEY_ID: (SECRET, ApiKey(KEY_ID, "test shop", frozenset(SCOPES)))}
        self.lookups = 0

    def add(self, scopes: Any, rate_limit: str | None = None) -> str:
        """A new key holding `scopes` (and its own rate); its plaintext."""
        key_id = f"{len(self.keys):016x}"
        self.keys[key_id] = (SECRET, ApiKey(key_id, "shop", frozenset(scopes), rate_limit))
        return f"pmk_{key_id}_{SECRET}"

    async def verify(self, key_id: str, secret: str) -> ApiKey | None:
        self.lookups += 1
        found = self.keys.get(key_id)
        return found[1] if found is not None and found[0] == secret else None


class FakeAudit:
    """The audit log in memory."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class Calls:
    """What the fake upstreams received, and what they should do next."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, dict[str, str]]] = []
        self.fail: ServiceError | None = None
        self.delay_s = 0.0
        self.replay = False  # answer as a stored answer given again

    async def record(self, name: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.requests.append((name, copy.deepcopy(request), dict(context.invocation_metadata())))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail


def _now() -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=1_700_000_000)


class FakePayments(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def CreatePayment(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("CreatePayment", request, context)
        if self.calls.replay:
            mark_replayed(context)
        orders = [
            payment_pb2.PaymentOrder(
                payment_order_id=o.payment_order_id,
                checkout_id=request.checkout_id,
                seller_account=o.seller_account,
                amount=o.amount,
                currency=o.currency,
                fee_amount="0.00",
                status=payment_pb2.PAYMENT_ORDER_STATUS_NOT_STARTED,
                created_at=_now(),
                updated_at=_now(),
            )
            for o in request.payment_orders
        ]
        checkout = payment_pb2.Checkout(
            checkout_id=request.checkout_id,
            buyer_id=request.buyer_info.buyer_id,
            payment_orders=orders,
            created_at=_now(),
        )
        return payment_pb2.CreatePaymentResponse(checkout=checkout)

    async def GetPaymentOrder(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("GetPaymentOrder", request, context)
        if request.payment_order_id == "missing":
            raise not_found("payment_order", request.payment_order_id)
        return payment_pb2.GetPaymentOrderResponse(
            payment_order=payment_pb2.PaymentOrder(payment_order_id=request.payment_order_id)
        )

    async def GetCheckout(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("GetCheckout", request, context)
        return payment_pb2.GetCheckoutResponse(
            checkout=payment_pb2.Checkout(checkout_id=request.checkout_id)
        )


class FakeRefunds(refunds_pb2_grpc.RefundServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def CreateRefund(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("CreateRefund", request, context)
        refund = refunds_pb2.Refund(
            refund_id="rf_1",
            payment_order_id=request.payment_order_id,
            amount=request.amount or "10.50",
            currency="USD",
            status=refunds_pb2.REFUND_STATUS_PENDING,
        )
        return refunds_pb2.CreateRefundResponse(refund=refund)

    async def GetRefund(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("GetRefund", request, context)
        return refunds_pb2.GetRefundResponse(refund=refunds_pb2.Refund(refund_id=request.refund_id))


class FakeWallets(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def GetBalance(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("GetBalance", request, context)
        return wallet_pb2.GetBalanceResponse(
            seller_account=request.seller_account,
            balances=[
                wallet_pb2.Balance(
                    currency="USD", pending="9.00", available="0.00", reserved="0.00", total="9.00"
                )
            ],
        )


class FakeLedger(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def GetAccountBalance(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("GetAccountBalance", request, context)
        return ledger_pb2.GetAccountBalanceResponse(
            account=request.account, normal_side=ledger_pb2.SIDE_DEBIT
        )

    async def ListEntries(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("ListEntries", request, context)
        return ledger_pb2.ListEntriesResponse(
            entries=[ledger_pb2.Entry(entry_id=7, account=request.account, amount="1.00")]
        )

    async def GetTrialBalance(self, request, context):  # type: ignore[no-untyped-def]
        await self.calls.record("GetTrialBalance", request, context)
        return ledger_pb2.GetTrialBalanceResponse(balanced=True)


class FakeOps(ops_pb2_grpc.OpsServiceServicer):
    async def GetPspBreaker(self, request, context):  # type: ignore[no-untyped-def]
        return ops_pb2.GetPspBreakerResponse(state="open", open_for_s=12.34)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calls() -> Calls:
    return Calls()


@pytest.fixture(scope="module")
async def upstream(calls: Calls) -> AsyncIterator[GrpcServer]:
    server = GrpcServer(
        "127.0.0.1:0",
        [
            (payment_pb2_grpc.add_PaymentServiceServicer_to_server, FakePayments(calls), PAYMENT),
            (refunds_pb2_grpc.add_RefundServiceServicer_to_server, FakeRefunds(calls), REFUND),
            (wallet_pb2_grpc.add_WalletServiceServicer_to_server, FakeWallets(calls), WALLET),
            (ledger_pb2_grpc.add_LedgerServiceServicer_to_server, FakeLedger(calls), LEDGER),
            # Only its health is asked here; its routes are test_gateway_access's.
            (
                notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                notify_pb2_grpc.NotifyServiceServicer(),
                NOTIFY,
            ),
            # Served (health) but not called here: the payout routes are tested end to end.
            (
                payout_pb2_grpc.add_PayoutServiceServicer_to_server,
                payout_pb2_grpc.PayoutServiceServicer(),
                PAYOUT,
            ),
            # Served (health) but not called here: its routes are test_gateway_access's.
            (
                recon_pb2_grpc.add_ReconServiceServicer_to_server,
                recon_pb2_grpc.ReconServiceServicer(),
                RECON,
            ),
            (ops_pb2_grpc.add_OpsServiceServicer_to_server, FakeOps(), OPS),
        ],
    )
    await server.start()
    yield server
    await server.stop(0)


@pytest.fixture(scope="module")
async def channel(upstream: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    ch = grpc.aio.insecure_channel(f"127.0.0.1:{upstream.port}")
    yield ch
    await ch.close()


async def db_ok() -> None:
    return None


def make_client(
    channels: dict[str, grpc.aio.Channel],
    *,
    timeout_s: float = 5.0,
    db_check=db_ok,
    verifier: FakeVerifier | None = None,
    audit: FakeAudit | None = None,
    **settings: Any,
) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    app = create_app(
        GatewaySettings(upstream_timeout_s=timeout_s, **settings),
        channels=channels,
        verifier=verifier or FakeVerifier(),
        db_check=db_check,
        audit=audit or FakeAudit(),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
async def client(channel: grpc.aio.Channel, calls: Calls) -> AsyncIterator[httpx.AsyncClient]:
    calls.requests.clear()
    calls.fail = None
    calls.delay_s = 0.0
    async with make_client(
        {
            PAYMENT: channel,
            REFUND: channel,
            WALLET: channel,
            LEDGER: channel,
            NOTIFY: channel,
            PAYOUT: channel,
        }
    ) as c:
        yield c


def auth(key: str = GOOD_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def fresh_key() -> str:
    """A random UUID that mesh.cards does not mistake for a card number (about 0.2 % of random
    UUIDs hold a Luhn-valid run of 13-19 digits; see test_a_uuid_with_a_luhn_valid_run...)."""
    while contains_card_number(key := str(uuid.uuid4())):
        pass
    return key


def post_headers(idempotency_key: str | None = None) -> dict[str, str]:
    return {**auth(), "Idempotency-Key": idempotency_key or fresh_key()}


def payment_body() -> dict[str, Any]:
    return {
        "checkout_id": "chk-1",
        "buyer_info": {"buyer_id": "buyer-1", "email": "b@example.com", "name": "Ada"},
        "payment_method": "pm_card_visa",
        "payment_orders": [
            {
                "payment_order_id": "po-1",
                "seller_account": "seller-1",
                "amount": "10.50",
                "currency": "USD",
            },
            {
                "payment_order_id": "po-2",
                "seller_account": "seller-2",
                "amount": "1000",
                "currency": "JPY",
            },
        ],
    }


def server_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged on the server side (the test's own httpx client logs its URLs)."""
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)


def error_of(
    response: httpx.Response,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(error, ErrorInfo, field violations) of an AIP-193 body."""
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == response.status_code
    by_type = {d["@type"].rsplit(".", 1)[1]: d for d in error["details"]}
    return error, by_type["ErrorInfo"], by_type.get("BadRequest", {}).get("fieldViolations", [])


# --- the happy paths ------------------------------------------------------------------------


async def test_create_payment_is_accepted_with_the_upstream_answer(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    key = fresh_key()
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers(key))
    assert response.status_code == 202, response.text
    checkout = response.json()["checkout"]
    assert checkout["checkout_id"] == "chk-1"
    assert checkout["is_payment_done"] is False
    assert checkout["created_at"] == "2023-11-14T22:13:20Z"
    first = checkout["payment_orders"][0]
    assert first["payment_order_id"] == "po-1"
    assert first["amount"] == "10.50"
    assert first["status"] == "PAYMENT_ORDER_STATUS_NOT_STARTED"
    assert first["wallet_updated"] is False and first["ledger_updated"] is False
    assert first["history"] == []
    assert "paymentOrders" not in checkout
    [(name, request, metadata)] = calls.requests
    assert name == "CreatePayment"
    assert request.request_id == key
    assert request.payment_orders[1].currency == "JPY"
    assert metadata["x-paymesh-key-id"] == KEY_ID


async def test_reads_with_path_and_query_parameters(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    response = await client.get("/v1/payments/po-1", headers=auth())
    assert response.status_code == 200
    assert response.json()["payment_order"]["payment_order_id"] == "po-1"
    response = await client.get("/v1/wallets/seller-1?currency=USD", headers=auth())
    assert response.status_code == 200
    assert response.json()["balances"][0]["pending"] == "9.00"
    response = await client.get(
        "/v1/ledger/accounts/seller_payable:seller-1/entries",
        params={"page_size": "10", "page_token": "abc"},
        headers=auth(),
    )
    assert response.status_code == 200
    assert response.json() == {
        "entries": [
            {
                "entry_id": "7",
                "transaction_id": "",
                "account": "seller_payable:seller-1",
                "side": "SIDE_UNSPECIFIED",
                "amount": "1.00",
                "currency": "",
                "payment_order_id": "",
                "description": "",
            }
        ],
        "next_page_token": "",
    }
    response = await client.get("/v1/ledger/accounts/psp_receivable", headers=auth())
    assert response.json()["normal_side"] == "SIDE_DEBIT"
    response = await client.get("/v1/ledger/trial-balance", headers=auth())
    assert response.json() == {"currencies": [], "balanced": True}
    response = await client.get("/v1/checkouts/chk-1", headers=auth())
    assert response.json()["checkout"]["checkout_id"] == "chk-1"
    names = [(n, r) for n, r, _ in calls.requests]
    assert names[1] == (
        "GetBalance",
        wallet_pb2.GetBalanceRequest(seller_account="seller-1", currency="USD"),
    )
    assert names[2] == (
        "ListEntries",
        ledger_pb2.ListEntriesRequest(
            account="seller_payable:seller-1", page_size=10, page_token="abc"
        ),
    )


# --- bad input: 400, the field and the rule named, the upstream never called -----------------


def _order(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        body["payment_orders"][0].update(changes)

    return mutate


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.update(changes)


def _duplicate_ids(body: dict[str, Any]) -> None:
    body["payment_orders"][1]["payment_order_id"] = body["payment_orders"][0]["payment_order_id"]


BAD_INPUT = [
    ("amount as a JSON number", _order(amount=10.5), None, "payment_orders[0].amount", "json.type"),
    (
        "too many decimals",
        _order(amount="10.001"),
        None,
        "payment_orders[0].amount",
        "amount.precision",
    ),
    ("exponent", _order(amount="1e3"), None, "payment_orders[0].amount", "string.pattern"),
    ("negative", _order(amount="-5"), None, "payment_orders[0].amount", "string.pattern"),
    ("zero", _order(amount="0"), None, "payment_orders[0].amount", "amount.positive"),
    (
        "unknown currency",
        _order(currency="XYZ"),
        None,
        "payment_orders[0].currency",
        "currency.iso4217",
    ),
    (
        "lower-case currency",
        _order(currency="usd"),
        None,
        "payment_orders[0].currency",
        "string.pattern",
    ),
    ("missing Idempotency-Key", None, "", "Idempotency-Key", "required"),
    ("non-UUID Idempotency-Key", None, "not-a-uuid", "Idempotency-Key", "string.uuid"),
    ("empty payment_orders", _set(payment_orders=[]), None, "payment_orders", "repeated.min_items"),
    (
        "duplicate payment_order_ids",
        _duplicate_ids,
        None,
        "payment_orders",
        "payment_orders.unique_ids",
    ),
    ("unknown JSON field", _set(coupon="FREE"), None, "coupon", "json.unknown_field"),
    (
        "request_id in the body",
        _set(request_id=fresh_key()),
        None,
        "request_id",
        "json.unknown_field",
    ),
    ("null buyer", _set(buyer_info=None), None, "buyer_info", "json.null"),
]


@pytest.mark.parametrize(
    ("mutate", "idempotency_key", "field", "rule"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
async def test_bad_input_is_refused_before_the_upstream(
    client: httpx.AsyncClient,
    calls: Calls,
    mutate: Callable[[dict[str, Any]], None] | None,
    idempotency_key: str | None,
    field: str,
    rule: str,
) -> None:
    body = payment_body()
    if mutate is not None:
        mutate(body)
    headers = auth()
    if idempotency_key != "":
        headers["Idempotency-Key"] = idempotency_key or fresh_key()
    response = await client.post("/v1/payments", content=json.dumps(body), headers=headers)
    assert response.status_code == 400, response.text
    error, info, violations = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert info["reason"] == "INVALID_ARGUMENT"
    assert info["domain"] == "paymesh.dev"
    assert {"field": field, "reason": rule} in [
        {"field": v["field"], "reason": v["reason"]} for v in violations
    ], violations
    assert all(v["description"] for v in violations)
    assert calls.requests == []


@pytest.mark.parametrize(
    "raw", [b"not json", b"", b'{"checkout_id": "a",}', b"\xff\xfe{}", b"[" * 50_000], ids=str
)
async def test_a_body_that_is_not_json_is_refused(
    client: httpx.AsyncClient, calls: Calls, raw: bytes
) -> None:
    response = await client.post("/v1/payments", content=raw, headers=post_headers())
    assert response.status_code == 400
    _, _info, violations = error_of(response)
    assert violations == [
        {
            "field": "body",
            "description": "the body is not a valid JSON document",
            "reason": "json.syntax",
        }
    ]
    assert calls.requests == []


def _card_bodies() -> list[tuple[str, str, str]]:
    """(case, raw body, field the gateway should name)."""
    cases = []
    body = payment_body()
    body["buyer_info"]["name"] = "4242 4242 4242 4242"
    cases.append(("in buyer_info.name", json.dumps(body), "buyer_info.name"))
    body = payment_body()
    body["note"] = "4111111111111111"
    cases.append(("in an unknown field", json.dumps(body), "note"))
    body = payment_body()
    body["payment_orders"][0]["amount"] = 4111111111111111
    cases.append(("as a JSON number", json.dumps(body), "payment_orders[0].amount"))
    raw = json.dumps(payment_body())[:-1] + ', "pan": 4242424242424242, "x": 1,}'
    cases.append(("in a body that is not JSON", raw, "body"))
    escaped = json.dumps(payment_body()).replace('"Ada"', '"\\u0034242424242424242"')
    cases.append(("behind JSON escapes", escaped, "buyer_info.name"))
    return cases


@pytest.mark.parametrize(
    ("raw", "field"), [c[1:] for c in _card_bodies()], ids=[c[0] for c in _card_bodies()]
)
async def test_card_numbers_anywhere_are_refused_and_never_logged(
    client: httpx.AsyncClient,
    calls: Calls,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    raw: str,
    field: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await client.post("/v1/payments", content=raw, headers=post_headers())
    assert response.status_code == 400
    _error, info, violations = error_of(response)
    assert info["reason"] == "CARD_NUMBER_REJECTED"
    assert [v["field"] for v in violations] == [field]
    assert violations[0]["reason"] == "card_number.forbidden"
    assert calls.requests == []
    out, err = capsys.readouterr()
    logged = server_logs(caplog) + out + err
    assert "POST /v1/payments 400" in logged, "the request is logged, without its body"
    for card in CARDS:
        for text in (card, card.replace(" ", "")):
            assert text not in response.text
            assert text not in logged


async def test_card_numbers_in_the_url_are_refused(
    client: httpx.AsyncClient, calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await client.get("/v1/payments/4242424242424242", headers=auth())
    assert response.status_code == 400
    _, info, violations = error_of(response)
    assert info["reason"] == "CARD_NUMBER_REJECTED"
    assert violations[0]["field"] == "payment_order_id"
    response = await client.get("/v1/wallets/s?currency=4111-1111-1111-1111", headers=auth())
    assert error_of(response)[2][0]["field"] == "currency"
    assert calls.requests == []
    logged = server_logs(caplog)
    assert "GET /v1/payments/{payment_order_id} 400" in logged
    assert "4242424242424242" not in logged and "4111" not in logged


async def test_bad_query_parameters_are_refused(client: httpx.AsyncClient, calls: Calls) -> None:
    cases = [
        ("/v1/ledger/accounts/psp_receivable/entries?page_size=ten", "page_size", "query.type"),
        ("/v1/ledger/accounts/psp_receivable/entries?page_size=501", "page_size", "int32.gte_lte"),
        ("/v1/ledger/accounts/psp_receivable/entries?sort=asc", "sort", "query.unknown_parameter"),
        ("/v1/wallets/seller-1?currency=usd", "currency", "string.pattern"),
        ("/v1/ledger/accounts/Not%20An%20Account", "account", "string.pattern"),
    ]
    for url, field, rule in cases:
        response = await client.get(url, headers=auth())
        assert response.status_code == 400, url
        violations = error_of(response)[2]
        assert {"field": field, "reason": rule} in [
            {"field": v["field"], "reason": v["reason"]} for v in violations
        ], (url, violations)
    assert calls.requests == []


async def test_a_body_over_one_mebibyte_is_refused(client: httpx.AsyncClient, calls: Calls) -> None:
    body = payment_body()
    body["buyer_info"]["name"] = "x" * (1024 * 1024)
    response = await client.post("/v1/payments", content=json.dumps(body), headers=post_headers())
    assert response.status_code == 413
    assert error_of(response)[1]["reason"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(17):
            yield b" " * 65536

    response = await client.post("/v1/payments", content=chunks(), headers=post_headers())
    assert response.status_code == 413
    assert calls.requests == []


def orders_body(n: int) -> dict[str, Any]:
    body = payment_body()
    body["payment_orders"] = [
        {
            "payment_order_id": f"order-{i:05d}",
            "seller_account": "seller-1",
            "amount": "10.00",
            "currency": "USD",
        }
        for i in range(n)
    ]
    return body


async def test_100_orders_are_accepted_101_refused_and_a_mebibyte_of_orders_refused_fast(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    started = time.perf_counter()
    response = await client.post("/v1/payments", json=orders_body(100), headers=post_headers())
    accept_s = time.perf_counter() - started
    assert response.status_code == 202, response.text
    assert len(calls.requests[-1][1].payment_orders) == 100

    response = await client.post("/v1/payments", json=orders_body(101), headers=post_headers())
    assert response.status_code == 400
    assert [(v["field"], v["reason"]) for v in error_of(response)[2]] == [
        ("payment_orders", "repeated.max_items")
    ]

    raw = json.dumps(orders_body(9000)).encode()  # just under the 1 MiB limit
    assert 900_000 < len(raw) < 1024 * 1024
    started = time.perf_counter()
    response = await client.post("/v1/payments", content=raw, headers=post_headers())
    reject_s = time.perf_counter() - started
    assert response.status_code == 400
    assert error_of(response)[2][0]["reason"] == "repeated.max_items"
    assert len(calls.requests) == 1
    assert accept_s < 1.0 and reject_s < 1.0, (accept_s, reject_s)


async def test_text_that_cannot_be_stored_is_400_naming_the_field(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    raw = json.dumps(payment_body()).replace('"Ada"', '"Ada\\u0000"').encode()
    response = await client.post("/v1/payments", content=raw, headers=post_headers())
    assert response.status_code == 400
    assert [(v["field"], v["reason"]) for v in error_of(response)[2]] == [
        ("buyer_info.name", "string.storable")
    ]
    raw = json.dumps(payment_body()).replace('"chk-1"', '"chk\\ud800"').encode()
    response = await client.post("/v1/payments", content=raw, headers=post_headers())
    assert response.status_code == 400
    assert error_of(response)[2][0]["field"] == "checkout_id"

    for url, field in (
        ("/v1/payments/po%00", "payment_order_id"),
        ("/v1/ledger/accounts/seller_payable:x/entries?page_token=a%00b", "page_token"),
    ):
        response = await client.get(url, headers=auth())
        assert response.status_code == 400, (url, response.text)
        assert [(v["field"], v["reason"]) for v in error_of(response)[2]] == [
            (field, "string.storable")
        ], url
    assert calls.requests == []


async def test_grpc_callers_get_invalid_argument_for_the_same_input(
    channel: grpc.aio.Channel, calls: Calls
) -> None:
    """The services run the same validator at their door: a caller inside the mesh, without
    the gateway, is refused the same way."""
    stub = payment_pb2_grpc.PaymentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetPaymentOrder(payment_pb2.GetPaymentOrderRequest(payment_order_id="po\x00"))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "payment_order_id" in (err.value.details() or "")

    request = payment_pb2.CreatePaymentRequest(
        request_id=fresh_key(),
        checkout_id="chk-1",
        payment_method="pm_card_visa",
        buyer_info=payment_pb2.BuyerInfo(buyer_id="b-1"),
    )
    for i in range(100):
        request.payment_orders.add(
            payment_order_id=f"po-{i}", seller_account="s", amount="1.00", currency="USD"
        )
    await stub.CreatePayment(request)
    request.payment_orders.add(
        payment_order_id="po-x", seller_account="s", amount="1.00", currency="USD"
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreatePayment(request)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "payment_orders" in (err.value.details() or "")


async def test_a_uuid_with_a_luhn_valid_run_is_a_valid_idempotency_key(
    client: httpx.AsyncClient,
) -> None:
    key = "1d298660-1e9b-4847-8613-45187139180e"
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers(key))
    assert response.status_code == 202, response.text


async def test_every_problem_is_reported_at_once(client: httpx.AsyncClient, calls: Calls) -> None:
    body = payment_body()
    body["payment_orders"][0]["amount"] = "10.001"
    body["payment_orders"][1]["currency"] = "XYZ"
    response = await client.post("/v1/payments", content=json.dumps(body), headers=auth())
    assert response.status_code == 400
    violations = [(v["field"], v["reason"]) for v in error_of(response)[2]]
    assert violations == [
        ("Idempotency-Key", "required"),
        ("payment_orders[0].amount", "amount.precision"),
        ("payment_orders[1].currency", "currency.iso4217"),
    ]
    assert calls.requests == []


# --- authentication -------------------------------------------------------------------------


async def test_no_key_is_401_with_www_authenticate(client: httpx.AsyncClient, calls: Calls) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer junk"}):
        response = await client.get("/v1/payments/po-1", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        error, info, _ = error_of(response)
        assert error["status"] == "UNAUTHENTICATED" and info["reason"] == "UNAUTHENTICATED"
    response = await client.post("/v1/payments", json=payment_body())
    assert response.status_code == 401
    assert calls.requests == []


async def test_a_wrong_key_is_403(client: httpx.AsyncClient, calls: Calls) -> None:
    unknown = f"pmk_{'f' * 16}_{SECRET}"
    for key in (WRONG_KEY, unknown):
        response = await client.get("/v1/payments/po-1", headers=auth(key))
        assert response.status_code == 403
        assert error_of(response)[1]["reason"] == "PERMISSION_DENIED"
    assert calls.requests == []


# --- upstream errors ------------------------------------------------------------------------

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


async def test_a_replayed_answer_says_so_in_a_header(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    key = fresh_key()
    first = await client.post("/v1/payments", json=payment_body(), headers=post_headers(key))
    calls.replay = True
    again = await client.post("/v1/payments", json=payment_body(), headers=post_headers(key))

    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (first.status_code, first.json())


async def test_a_replayed_refusal_says_so_in_a_header(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    calls.fail = ServiceError(
        Code.ALREADY_EXISTS, "ALREADY_EXISTS", "already exists: po-1", replayed=True
    )
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers())

    assert response.status_code == 409
    assert response.headers["Idempotent-Replayed"] == "true"
    assert error_of(response)[1]["reason"] == "ALREADY_EXISTS"


async def test_resource_exhausted_is_429_with_retry_after(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    calls.fail = ServiceError(
        Code.RESOURCE_EXHAUSTED,
        "IDEMPOTENCY_KEY_IN_USE",
        "another request with this key is in progress",
        metadata={"retry_after_s": "3"},
    )
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    error, info, _ = error_of(response)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert info["reason"] == "IDEMPOTENCY_KEY_IN_USE"
    assert {"@type": RETRY_INFO, "retryDelay": "3s"} in error["details"]
    calls.fail = ServiceError(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED", "slow down")
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers())
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")


async def test_idempotency_key_reused_is_422(client: httpx.AsyncClient, calls: Calls) -> None:
    calls.fail = ServiceError(
        Code.FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED", "the key was used before"
    )
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers())
    assert response.status_code == 422
    error, info, _ = error_of(response)
    assert info["reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert error["message"] == "the key was used before"
    assert len(calls.requests) == 1


async def test_upstream_errors_keep_their_details(client: httpx.AsyncClient, calls: Calls) -> None:
    response = await client.get("/v1/payments/missing", headers=auth())
    assert response.status_code == 404
    assert error_of(response)[1] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "NOT_FOUND",
        "domain": "paymesh.dev",
        "metadata": {"payment_order": "missing"},
    }
    calls.fail = invalid_argument(
        [FieldViolation("payment_orders[0].seller_account", "seller.unknown", "no such seller")]
    )
    response = await client.post("/v1/payments", json=payment_body(), headers=post_headers())
    assert response.status_code == 400
    assert error_of(response)[2] == [
        {
            "field": "payment_orders[0].seller_account",
            "description": "no such seller",
            "reason": "seller.unknown",
        }
    ]


async def test_an_upstream_that_is_down_is_503(calls: Calls) -> None:
    calls.requests.clear()
    down = grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}")
    try:
        downs = {
            PAYMENT: down,
            REFUND: down,
            WALLET: down,
            LEDGER: down,
            NOTIFY: down,
            PAYOUT: down,
            RECON: down,
            OPS: down,
        }
        async with make_client(downs) as client:
            response = await client.post(
                "/v1/payments", json=payment_body(), headers=post_headers()
            )
            assert response.status_code == 503
            error, info, _ = error_of(response)
            assert error["status"] == "UNAVAILABLE"
            assert info["reason"] == "UNAVAILABLE"
            assert "127.0.0.1" not in error["message"]  # the transport's text stays inside
            assert response.headers["Retry-After"] == "1"
            ready = await client.get("/readyz", headers=auth())
            assert ready.status_code == 503
            assert set(ready.json()["not_ready"]) == {
                PAYMENT,
                REFUND,
                WALLET,
                LEDGER,
                NOTIFY,
                PAYOUT,
                RECON,
                OPS,
            }
    finally:
        await down.close()


async def test_an_upstream_that_is_too_slow_is_504(channel: grpc.aio.Channel, calls: Calls) -> None:
    calls.requests.clear()
    calls.fail = None
    calls.delay_s = 1.0
    try:
        async with make_client(
            {
                PAYMENT: channel,
                REFUND: channel,
                WALLET: channel,
                LEDGER: channel,
                NOTIFY: channel,
                PAYOUT: channel,
            },
            timeout_s=0.1,
        ) as client:
            response = await client.get("/v1/payments/po-1", headers=auth())
    finally:
        calls.delay_s = 0.0
    assert response.status_code == 504
    error, info, _ = error_of(response)
    assert (error["status"], info["reason"]) == ("DEADLINE_EXCEEDED", "UNAVAILABLE")


# --- routing, health, OpenAPI ---------------------------------------------------------------


async def test_unknown_routes_and_wrong_methods_are_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here", headers=auth())
    assert response.status_code == 404
    assert error_of(response)[0]["status"] == "NOT_FOUND"
    response = await client.get("/v1/payments", headers=auth())
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    _error, info, _ = error_of(response)
    assert info["reason"] == "METHOD_NOT_ALLOWED"
    response = await client.delete("/v1/payments/po-1", headers=auth())
    assert response.status_code == 405
    response = await client.get("/v1/payments/", headers=auth())
    assert response.status_code == 404  # no redirect


async def test_health_readiness_and_openapi(channel: grpc.aio.Channel) -> None:
    async def db_down() -> None:
        raise OSError("connection refused")

    channels = {
        PAYMENT: channel,
        REFUND: channel,
        WALLET: channel,
        LEDGER: channel,
        NOTIFY: channel,
        PAYOUT: channel,
        RECON: channel,
        OPS: channel,
    }
    async with make_client(channels) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz", headers=auth())
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {
            "database": "SERVING",
            LEDGER: "SERVING",
            NOTIFY: "SERVING",
            OPS: "SERVING",
            PAYMENT: "SERVING",
            PAYOUT: "SERVING",
            RECON: "SERVING",
            REFUND: "SERVING",
            WALLET: "SERVING",
        }
        # The PSP breaker of the payment service answering, for ops keys (not readiness).
        assert ready.json()["psp_breaker"] == {"state": "open", "open_for_s": 12.3}
        doc = (await client.get("/openapi.json")).json()
        assert "/v1/payments" in doc["paths"]
    async with make_client(channels, db_check=db_down) as client:
        ready = await client.get("/readyz", headers=auth())
        assert ready.status_code == 503
        assert ready.json()["not_ready"] == ["database"]


async def test_refunds_are_routed_to_the_refund_service_and_accepted_with_202(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    key = fresh_key()
    created = await client.post(
        "/v1/refunds",
        json={"payment_order_id": "po-1", "amount": "2.50"},
        headers=post_headers(key),
    )
    assert created.status_code == 202, created.text
    assert created.json()["refund"]["status"] == "REFUND_STATUS_PENDING"
    name, request, _ = calls.requests[-1]
    assert (name, request.request_id, request.amount) == ("CreateRefund", key, "2.50")
    no_key = await client.post("/v1/refunds", json={"payment_order_id": "po-1"}, headers=auth())
    assert no_key.status_code == 400
    found = await client.get("/v1/refunds/rf_1", headers=auth())
    assert (found.status_code, found.json()["refund"]["refund_id"]) == (200, "rf_1")
