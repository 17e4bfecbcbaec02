"""Balances and holds through payment, wallet and ledger services in-process (the sandbox PSP
over HTTP) on real PostgreSQL and NATS JetStream: a release moves an order's credit from
pending to available once, the hold period does the same, refunds of released orders come out
of available and create debt that later pay-ins settle, holds never take more than is
available however many arrive at once, and the ledger agrees with the wallet per bucket after
every step. The autouse check of the money invariants runs after each test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from buckets_mesh import API_KEY, Mesh, running_mesh
from google.rpc import error_details_pb2
from harness import new_request_id, rich_status
from sqlalchemy import text

from payment_svc.adapters.stripe_psp import list_charges_by_order
from paymesh.wallet.v1 import wallet_pb2
from paymesh_cli.invariants import run_checks

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]


@pytest.fixture
async def mesh(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Mesh]:
    async with running_mesh(database_url, nats_url, tmp_path) as started:
        yield started


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert rich_status(err).details[0].Unpack(info)
    return info


def seller() -> str:
    return f"seller_{uuid.uuid4().hex[:10]}"


async def test_a_release_moves_the_credit_to_available_once(mesh: Mesh) -> None:
    s = seller()
    order = await mesh.pay(s, "100.00")
    await mesh.settled_at(s, pending="90.00")

    reply = await mesh.release(order)
    assert reply.seller_account == s
    await mesh.release(order)  # again: harmless
    await mesh.settled_at(s, available="90.00")

    report = await run_checks(
        mesh.database_url, lambda: list_charges_by_order(API_KEY, mesh.psp_base)
    )
    assert report.ok, report.violations
    async with mesh.wallet.engine.connect() as conn:
        releases = await conn.scalar(
            text("SELECT count(*) FROM wallet_releases WHERE payment_order_id = :o"),
            {"o": order},
        )
    assert releases == 1


async def test_release_of_an_unknown_order_is_not_found(mesh: Mesh) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.release("po_nobody")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_refunds_of_released_orders_come_out_of_available_and_may_leave_debt(
    mesh: Mesh,
) -> None:
    s = seller()
    first = await mesh.pay(s, "100.00")
    await mesh.release(first)
    await mesh.settled_at(s, available="90.00")
    second = await mesh.pay(s, "50.00")
    await mesh.settled_at(s, pending="45.00", available="90.00")

    # Reserve most of what is available, so that a refund of the released order cannot be
    # covered by available alone: the rest is the seller's debt (pending is not touched).
    hold = f"hold_{uuid.uuid4().hex[:8]}"
    await mesh.wallets.ReserveFunds(
        wallet_pb2.ReserveFundsRequest(
            request_id=new_request_id(),
            hold_id=hold,
            seller_account=s,
            amount="80.00",
            currency="USD",
        ),
        timeout=10,
    )
    await mesh.settled_at(s, pending="45.00", available="10.00", reserved="80.00")
    await mesh.refund(first, "50.00")  # the seller gives back 45.00
    await mesh.settled_at(s, pending="45.00", reserved="80.00", debt="35.00")

    # A refund of the unreleased order comes out of pending, as before.
    await mesh.refund(second, "10.00")  # 9.00
    await mesh.settled_at(s, pending="36.00", reserved="80.00", debt="35.00")

    # A later pay-in settles the debt first.
    await mesh.pay(s, "20.00")  # 18.00 net
    await mesh.settled_at(s, pending="36.00", reserved="80.00", debt="17.00")
    await mesh.pay(s, "30.00")  # 27.00 net: 17.00 settles the debt, 10.00 pending
    await mesh.settled_at(s, pending="46.00", reserved="80.00")

    # The payout failed: the hold goes back to available.
    await mesh.wallets.ReleaseFunds(
        wallet_pb2.ReleaseFundsRequest(request_id=new_request_id(), hold_id=hold), timeout=10
    )
    await mesh.settled_at(s, pending="46.00", available="80.00")


async def test_fifty_concurrent_holds_never_exceed_available(mesh: Mesh) -> None:
    s = seller()
    order = await mesh.pay(s, "100.00")
    await mesh.release(order)
    await mesh.settled_at(s, available="90.00")

    async def reserve(i: int) -> wallet_pb2.Hold | grpc.aio.AioRpcError:
        try:
            reply = await mesh.wallets.ReserveFunds(
                wallet_pb2.ReserveFundsRequest(
                    request_id=new_request_id(),
                    hold_id=f"po_{s}_{i}",
                    seller_account=s,
                    amount="10.00",
                    currency="USD",
                ),
                timeout=30,
            )
            return reply.hold
        except grpc.aio.AioRpcError as err:
            return err

    results = await asyncio.gather(*(reserve(i) for i in range(50)))
    held = [r for r in results if isinstance(r, wallet_pb2.Hold)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert (len(held), len(refused)) == (9, 41)
    for err in refused:
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = error_info(err)
        assert info.reason == "INSUFFICIENT_FUNDS"
        assert info.metadata["available"] == "0.00"
    await mesh.settled_at(s, reserved="90.00")

    # A retried reserve (same hold id) holds nothing more.
    again = await reserve(0)
    assert isinstance(again, wallet_pb2.Hold) or again.code() == grpc.StatusCode.FAILED_PRECONDITION
    await mesh.settled_at(s, reserved="90.00")


async def test_holds_capture_release_and_return(mesh: Mesh) -> None:
    s = seller()
    order = await mesh.pay(s, "100.00")
    await mesh.release(order)
    await mesh.settled_at(s, available="90.00")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.wallets.ReserveFunds(
            wallet_pb2.ReserveFundsRequest(
                request_id=new_request_id(),
                hold_id="h_too_much",
                seller_account=s,
                amount="90.01",
                currency="USD",
            ),
            timeout=10,
        )
    info = error_info(err.value)
    assert (info.reason, info.metadata["available"]) == ("INSUFFICIENT_FUNDS", "90.00")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.wallets.ReserveFunds(
            wallet_pb2.ReserveFundsRequest(
                request_id=new_request_id(), hold_id="h_eur", seller_account=s, currency="EUR"
            ),
            timeout=10,
        )
    assert error_info(err.value).reason == "NO_BALANCE_IN_CURRENCY"

    hold_id = f"h_{uuid.uuid4().hex[:8]}"
    everything = await mesh.wallets.ReserveFunds(
        wallet_pb2.ReserveFundsRequest(
            request_id=new_request_id(), hold_id=hold_id, seller_account=s, currency="USD"
        ),
        timeout=10,
    )
    assert everything.hold.amount == "90.00"
    await mesh.settled_at(s, reserved="90.00")

    for _ in range(2):  # idempotent
        captured = await mesh.wallets.CaptureFunds(
            wallet_pb2.CaptureFundsRequest(request_id=new_request_id(), hold_id=hold_id),
            timeout=10,
        )
    assert captured.hold.status == wallet_pb2.HOLD_STATUS_CAPTURED
    await mesh.settled_at(s)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.wallets.ReleaseFunds(
            wallet_pb2.ReleaseFundsRequest(request_id=new_request_id(), hold_id=hold_id),
            timeout=10,
        )
    assert error_info(err.value).reason == "HOLD_NOT_IN_STATE"

    # Paid, then returned by the bank: the money is the seller's again.
    returned = await mesh.wallets.ReturnFunds(
        wallet_pb2.ReturnFundsRequest(request_id=new_request_id(), hold_id=hold_id), timeout=10
    )
    assert returned.hold.status == wallet_pb2.HOLD_STATUS_RETURNED
    await mesh.settled_at(s, available="90.00")
    report = await run_checks(mesh.database_url)
    assert report.ok, report.violations


async def test_the_hold_period_releases_without_a_call(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with running_mesh(database_url, nats_url, tmp_path, hold_period_s=1.0) as mesh:
        s = seller()
        await mesh.pay(s, "40.00")
        await mesh.settled_at(s, available="36.00")
        async with mesh.wallet.engine.connect() as conn:
            reason = await conn.scalar(
                text("SELECT reason FROM wallet_releases WHERE seller_account = :s"), {"s": s}
            )
        assert reason == "auto_release"
