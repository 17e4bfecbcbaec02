"""recon_svc in-process over the mesh (payment, wallet, ledger, the sandbox PSP) on real
PostgreSQL and NATS: a day of pay-ins with planted discrepancies at the PSP (an order whose
3-D Secure charge succeeded while paymesh still waits, a second charge of a paid order, a
charge that names nothing of ours), a run over gRPC that fixes the first through the payment
service and queues the others, a second run that changes nothing, and the queue's refund of
the duplicate charge made once (that charge alone, the order and the seller left alone). The
autouse check of the money invariants runs after the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from buckets_mesh import API_KEY, running_mesh
from buckets_mesh import Mesh as BucketMesh
from harness import eventually, new_request_id
from recon_mesh import ReconMesh, recon_service, succeeded_at_psp
from sqlalchemy import text

from mesh.events import RECON_MISMATCH_OPENED, decode_envelope, unpack
from paymesh.events.v1 import events_pb2
from paymesh.payment.v1 import payment_pb2
from paymesh.recon.v1 import recon_pb2
from paymesh_cli.invariants import run_checks

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

R = recon_pb2


@pytest.fixture
async def mesh(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[ReconMesh]:
    async with running_mesh(database_url, nats_url, tmp_path) as base:
        async with recon_service(base, database_url, nats_url, tmp_path / "recon") as recon:
            yield ReconMesh(base, recon)
            assert recon.life.failed is None, f"a task died: {recon.life.failed!r}"


async def pending_order(base: BucketMesh, seller: str) -> str:
    """An order paid with a card whose 3-D Secure step the sandbox completes two seconds later:
    the order stays PENDING (no webhook reaches this mesh, and the sweeper waits a minute)."""
    suffix = uuid.uuid4().hex[:10]
    await base.payments.CreatePayment(
        payment_pb2.CreatePaymentRequest(
            request_id=new_request_id(),
            checkout_id=f"co_{suffix}",
            buyer_info=payment_pb2.BuyerInfo(buyer_id="buyer_1"),
            payment_method="pm_card_sandbox_threeDSecureSucceedsLater",
            payment_orders=[
                payment_pb2.PaymentOrderInput(
                    payment_order_id=f"po_{suffix}",
                    seller_account=seller,
                    amount="15.00",
                    currency="USD",
                )
            ],
        ),
        timeout=10,
    )

    async def pending() -> bool:
        reply = await base.payments.GetPaymentOrder(
            payment_pb2.GetPaymentOrderRequest(payment_order_id=f"po_{suffix}"), timeout=10
        )
        return reply.payment_order.status == payment_pb2.PAYMENT_ORDER_STATUS_PENDING

    await eventually(pending)
    return f"po_{suffix}"


async def charge_at_psp(base: BucketMesh, cents: int, metadata: dict[str, str]) -> str:
    """A charge made at the PSP behind paymesh's back (a buyer's double click through another
    integration, a manual charge in the PSP's dashboard)."""
    form = {"amount": str(cents), "currency": "usd", "confirm": "true"}
    form["payment_method"] = "pm_card_visa"
    form.update({f"metadata[{k}]": v for k, v in metadata.items()})
    async with httpx.AsyncClient(base_url=base.psp_base) as client:
        reply = await client.post(
            "/v1/payment_intents", data=form, headers={"Authorization": f"Bearer {API_KEY}"}
        )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id"])


async def mismatches_opened(mesh: ReconMesh) -> dict[str, events_pb2.ReconMismatchOpened]:
    """recon.mismatch.opened events of recon's outbox by mismatch id, once the relay has
    published every one of them."""

    async def published() -> list[bytes] | None:
        async with mesh.recon.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT payload, published_at FROM outbox WHERE subject = :s"),
                    {"s": RECON_MISMATCH_OPENED},
                )
            ).all()
        return [bytes(p) for p, at in rows] if all(at for _, at in rows) else None

    events: dict[str, events_pb2.ReconMismatchOpened] = {}
    for payload in await eventually(published, within=30):
        event = unpack(decode_envelope(payload), events_pb2.ReconMismatchOpened)
        events[event.mismatch_id] = event
    return events


async def test_a_run_fixes_queues_and_a_second_run_changes_nothing(mesh: ReconMesh) -> None:
    seller = f"seller_{uuid.uuid4().hex[:8]}"
    clean = [await mesh.base.pay(seller, amount) for amount in ("10.00", "20.00")]
    waiting = await pending_order(mesh.base, seller)
    await charge_at_psp(mesh.base, 2000, {"payment_order_id": clean[1]})  # charged twice
    stranger = await charge_at_psp(mesh.base, 777, {})  # names nothing of ours
    await succeeded_at_psp(mesh.base, 5)  # the 3-D Secure charge completed too

    first = await mesh.run()
    assert first.status == R.RUN_STATUS_SUCCEEDED, first.report.error
    report = first.report
    assert dict(report.mismatched_by_type) == {
        "status": 1,
        "duplicate_charge": 1,
        "unmatched_psp": 1,
    }
    assert dict(report.mismatched_by_class) == {"1": 1, "2": 1, "3": 1}
    # The PSP's fee of each of the five charges is booked in the ledger by the run, too.
    assert dict(report.fixes) == {"settle_order_from_psp": 1, "book_psp_fee": 5}
    assert report.new_mismatches == 3
    assert report.psp_rows == 5 and report.order_rows == 3
    [usd] = report.totals
    # Ours as read, before the fix: the two paid orders; theirs: every charge of the day.
    assert (usd.ours, usd.theirs, usd.difference) == ("30.00", "72.77", "42.77")

    # Class 1: the order the PSP charged is settled through the payment service, with an audit
    # record naming the run and the rule; wallet and ledger follow as for any success.
    [fixed] = await mesh.queue(status=R.MISMATCH_STATUS_FIXED)
    assert (fixed.type, fixed.detail, fixed.mismatch_class) == (
        "status",
        "order_unsettled",
        R.MISMATCH_CLASS_AUTO_FIXED,
    )
    assert fixed.evidence["payment_order_id"] == waiting
    order = await mesh.base.payments.GetPaymentOrder(
        payment_pb2.GetPaymentOrderRequest(payment_order_id=waiting), timeout=10
    )
    assert order.payment_order.status == payment_pb2.PAYMENT_ORDER_STATUS_SUCCESS
    async with mesh.recon.engine.connect() as conn:
        audit = (
            await conn.execute(text("SELECT run_id, rule FROM fixes WHERE mismatch_id = :m"),
                               {"m": fixed.mismatch_id})
        ).all()  # fmt: skip
    assert [tuple(a) for a in audit] == [(first.run_id, "settle_order_from_psp")]
    await mesh.base.settled_at(seller, pending="40.50")  # 90 % of 10 + 20 + 15

    # Classes 2 and 3 wait in the queue with their evidence and suggestion.
    [duplicate] = await mesh.queue(status=R.MISMATCH_STATUS_OPEN, mismatch_class=2)
    assert (duplicate.type, duplicate.suggested_action) == ("duplicate_charge", "refund")
    assert duplicate.evidence["payment_order_id"] == clean[1]
    [unknown] = await mesh.queue(type="unmatched_psp")
    assert unknown.mismatch_class == R.MISMATCH_CLASS_UNCLASSIFIABLE
    assert unknown.evidence["psp_payment_intent"] == stranger

    # Each new mismatch was told to the marketplace once, through recon's outbox (published).
    opened = await mismatches_opened(mesh)
    assert sorted(opened) == sorted([fixed.mismatch_id, duplicate.mismatch_id, unknown.mismatch_id])
    told = opened[duplicate.mismatch_id]
    assert (told.run_id, told.type, told.mismatch_class, told.suggested_action) == (
        first.run_id,
        "duplicate_charge",
        2,
        "refund",
    )
    assert (told.amount.amount, told.amount.currency) == ("20.00", "USD")

    # A second run of the day finds what the first fixed and queued, and changes nothing.
    repeat = new_request_id()
    second = await mesh.run(repeat)
    assert second.run_id != first.run_id and second.status == R.RUN_STATUS_SUCCEEDED
    # The same request again answers the same run; it starts nothing.
    same = await mesh.stub.StartRun(
        R.StartRunRequest(request_id=repeat, period=second.period), timeout=10
    )
    assert (same.run.run_id, same.run.status) == (second.run_id, R.RUN_STATUS_SUCCEEDED)
    assert second.report.new_mismatches == 0 and dict(second.report.fixes) == {}
    assert sorted(await mismatches_opened(mesh)) == sorted(opened)  # nothing told again
    assert dict(second.report.mismatched_by_type) == {"duplicate_charge": 1, "unmatched_psp": 1}
    assert {m.mismatch_id: m.status for m in await mesh.queue()} == {
        fixed.mismatch_id: R.MISMATCH_STATUS_FIXED,
        duplicate.mismatch_id: R.MISMATCH_STATUS_OPEN,
        unknown.mismatch_id: R.MISMATCH_STATUS_OPEN,
    }

    # A person refunds the duplicate: its one PSP charge given back through the payment
    # service, however often the decision is sent, and booked through suspense; the order
    # keeps its charge and its refund-free books. The decision is recorded and the mismatch
    # leaves the open queue.
    decide = R.ResolveMismatchRequest(
        request_id=new_request_id(),
        mismatch_id=duplicate.mismatch_id,
        action=R.RESOLUTION_ACTION_REFUND,
        note="buyer double-clicked",
        resolved_by="finance@shop",
    )
    resolved = (await mesh.stub.ResolveMismatch(decide, timeout=30)).mismatch
    again = (await mesh.stub.ResolveMismatch(decide, timeout=30)).mismatch
    assert resolved.status == again.status == R.MISMATCH_STATUS_RESOLVED
    assert [(r.action, r.resolved_by) for r in again.resolutions] == [
        (R.RESOLUTION_ACTION_REFUND, "finance@shop")
    ]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.stub.ResolveMismatch(
            R.ResolveMismatchRequest(
                request_id=new_request_id(),
                mismatch_id=duplicate.mismatch_id,
                action=R.RESOLUTION_ACTION_REFUND,
            ),
            timeout=30,
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    async with httpx.AsyncClient(
        base_url=mesh.base.psp_base, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as psp:
        given_back = await psp.get(
            "/v1/refunds", params={"charge": duplicate.evidence["psp_source"]}
        )
    assert [(r["amount"], r["status"]) for r in given_back.json()["data"]] == [(2000, "succeeded")]
    async with mesh.base.payment.engine.connect() as conn:
        refunds = await conn.scalar(
            text("SELECT count(*) FROM refunds WHERE payment_order_id = :o"), {"o": clean[1]}
        )
    assert refunds == 0
    await mesh.base.settled_at(seller, pending="40.50")  # the seller's credit left alone

    # The duplicate charge and its refund, booked through suspense, are postings on a PSP
    # account that the PSP's report explains: a later run finds none unexplained.
    third = await mesh.run()
    assert third.status == R.RUN_STATUS_SUCCEEDED, third.report.error
    assert "ledger_without_psp" not in dict(third.report.mismatched_by_type)

    # Resolutions are never edited away.
    async with mesh.recon.engine.connect() as conn:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute(text("DELETE FROM resolutions"))
    report_after = await run_checks(mesh.base.database_url)
    assert report_after.ok, report_after.violations
