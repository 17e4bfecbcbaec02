"""The gateway's route table comes from the google.api.http annotations."""

from __future__ import annotations

import pytest

from gateway.routes import FRONTED_SERVICES, MethodRoute, derive_routes

pytestmark = pytest.mark.unit

EXPECTED = {
    ("POST", "/v1/payments"),
    ("GET", "/v1/payments/{payment_order_id}"),
    ("GET", "/v1/checkouts/{checkout_id}"),
    ("POST", "/v1/buyers/{buyer_id}:erase"),
    ("POST", "/v1/payments/{payment_order_id}/release"),
    ("POST", "/v1/refunds"),
    ("GET", "/v1/refunds/{refund_id}"),
    ("GET", "/v1/wallets/{seller_account}"),
    ("GET", "/v1/ledger/accounts/{account}"),
    ("GET", "/v1/ledger/accounts/{account}/entries"),
    ("GET", "/v1/ledger/trial-balance"),
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}:disable"),
    ("GET", "/v1/webhook-events/{event_id}/deliveries"),
    ("POST", "/v1/webhook-events/{event_id}:redeliver"),
    ("POST", "/v1/sellers"),
    ("GET", "/v1/sellers/{seller_account}"),
    ("PATCH", "/v1/sellers/{seller_account}"),
    ("POST", "/v1/payouts"),
    ("GET", "/v1/payouts/{payout_id}"),
    ("GET", "/v1/sellers/{seller_account}/payouts"),
    ("POST", "/v1/payout-runs"),
    ("POST", "/v1/recon/runs"),
    ("GET", "/v1/recon/runs/{run_id}"),
    ("GET", "/v1/recon/mismatches"),
    ("GET", "/v1/recon/mismatches/{mismatch_id}"),
    ("POST", "/v1/recon/mismatches/{mismatch_id}/resolve"),
    ("GET", "/v1/ops/alerts"),
    ("POST", "/v1/ops/alerts/{alert_id}:acknowledge"),
    ("GET", "/v1/ops/dlq"),
    ("GET", "/v1/ops/dlq/{seq}"),
    ("POST", "/v1/ops/dlq/{seq}:replay"),
    ("POST", "/v1/ops/dlq/{seq}:discard"),
    ("GET", "/v1/ops/payments:lookup"),
    ("GET", "/v1/ops/payment-stats"),
}


def by_rpc() -> dict[str, MethodRoute]:
    return {r.method.full_name: r for r in derive_routes()}


def test_the_route_table_is_the_annotated_routes() -> None:
    routes = derive_routes(FRONTED_SERVICES)
    assert {(r.http_method, r.path) for r in routes} == EXPECTED
    assert len(routes) == len(EXPECTED)


def test_each_route_calls_its_rpc() -> None:
    routes = by_rpc()
    create = routes["paymesh.payment.v1.PaymentService.CreatePayment"]
    assert create.rpc_path == "/paymesh.payment.v1.PaymentService/CreatePayment"
    assert create.request_type.DESCRIPTOR.name == "CreatePaymentRequest"
    assert create.response_type.DESCRIPTOR.name == "CreatePaymentResponse"
    refund = routes["paymesh.payment.v1.RefundService.CreateRefund"]
    assert (refund.rpc_path, refund.success_status, refund.needs_idempotency_key) == (
        "/paymesh.payment.v1.RefundService/CreateRefund",
        202,
        True,
    )
    balance = routes["paymesh.wallet.v1.WalletService.GetBalance"]
    assert balance.rpc_path == "/paymesh.wallet.v1.WalletService/GetBalance"


def test_path_variables_bind_request_fields() -> None:
    routes = by_rpc()
    order = routes["paymesh.payment.v1.PaymentService.GetPaymentOrder"]
    assert dict(order.path_params) == {"payment_order_id": "payment_order_id"}
    assert order.starlette_path == "/v1/payments/{payment_order_id}"
    entries = routes["paymesh.ledger.v1.LedgerService.ListEntries"]
    assert dict(entries.path_params) == {"account": "account"}


def test_body_and_query_parameters() -> None:
    routes = by_rpc()
    create = routes["paymesh.payment.v1.PaymentService.CreatePayment"]
    assert create.body == "*"
    assert create.query_fields() == []
    entries = routes["paymesh.ledger.v1.LedgerService.ListEntries"]
    assert entries.body == ""
    assert entries.query_fields() == ["page_size", "page_token"]
    assert routes["paymesh.wallet.v1.WalletService.GetBalance"].query_fields() == ["currency"]
    assert routes["paymesh.ledger.v1.LedgerService.GetTrialBalance"].query_fields() == []


def test_success_statuses_and_idempotency() -> None:
    routes = by_rpc()
    create = routes["paymesh.payment.v1.PaymentService.CreatePayment"]
    assert create.success_status == 202
    assert create.needs_idempotency_key
    refund = routes["paymesh.payment.v1.RefundService.CreateRefund"]
    assert (refund.success_status, refund.needs_idempotency_key) == (202, True)
    erase = routes["paymesh.payment.v1.PaymentService.ErasePersonalData"]
    assert (erase.success_status, erase.needs_idempotency_key) == (200, True)
    assert dict(erase.path_params) == {"buyer_id": "buyer_id"}
    # Operator actions: answered at once (200), each under its own Idempotency-Key.
    operator_actions = {
        f"paymesh.ops.v1.OpsService.{rpc}"
        for rpc in ("AcknowledgeAlert", "ReplayDeadLetter", "DiscardDeadLetter")
    }
    for name in operator_actions:
        assert (routes[name].success_status, routes[name].needs_idempotency_key) == (200, True)
    release = routes["paymesh.payment.v1.PaymentService.ReleasePaymentOrder"]
    assert (release.success_status, release.needs_idempotency_key) == (202, True)
    payout = routes["paymesh.payout.v1.PayoutService.CreatePayout"]
    assert (payout.success_status, payout.needs_idempotency_key) == (202, True)
    # A reconciliation run is carried out in the background: accepted, then followed.
    recon_run = routes["paymesh.recon.v1.ReconService.StartRun"]
    assert (recon_run.success_status, recon_run.needs_idempotency_key) == (202, True)
    mutating = (
        create.method.full_name,
        refund.method.full_name,
        erase.method.full_name,
        release.method.full_name,
        payout.method.full_name,
        recon_run.method.full_name,
    )
    for name, route in routes.items():
        if name not in (*mutating, *operator_actions):
            assert route.success_status == 200
            # The marketplace's webhook endpoints, the sellers and the payout runs: every POST
            # and PATCH is idempotent too.
            assert route.needs_idempotency_key == (route.http_method in ("POST", "PATCH"))
