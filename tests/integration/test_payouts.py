"""Payouts through the whole mesh in-process (payment, wallet, ledger and payout services, the
sandbox PSP as Stripe Connect over HTTP through the stripe SDK) on real PostgreSQL and NATS
JetStream: pay-in → release → payout → PAID with wallet and ledger agreeing per bucket, each
status counted once in `paymesh_payout_transitions_total`; no destination, not enough
available, a provider failure, a lost provider answer and a provider call that timed out, a
payout the bank returns after it was paid, a platform short of funds, and a scheduled run made
twice. The autouse check of the money invariants runs after each test."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import grpc
import httpx
import pytest
from buckets_mesh import API_KEY, running_mesh
from buckets_mesh import Mesh as BucketMesh
from google.rpc import error_details_pb2
from harness import Started, eventually, new_request_id, rich_status, started_service
from prometheus_client import REGISTRY
from sqlalchemy import text

from payment_svc.adapters.stripe_psp import list_charges_by_order
from paymesh.payout.v1 import payout_pb2, payout_pb2_grpc
from paymesh_cli.invariants import run_checks
from payout_svc.adapters.stripe_payouts import list_payouts_by_id
from payout_svc.bootstrap import start as start_payout
from payout_svc.domain import PayoutStatus
from payout_svc.entrypoints.executor import EXECUTOR
from payout_svc.settings import PayoutSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

D = Decimal
S = payout_pb2


@dataclass
class PayoutMesh:
    base: BucketMesh
    payout: Started

    @property
    def stub(self) -> payout_pb2_grpc.PayoutServiceStub:
        return payout_pb2_grpc.PayoutServiceStub(self.payout.channel)

    async def seller_with_funds(self, destination: str, amount: str = "100.00") -> str:
        """A seller with `destination` and the net of a released order of `amount` available."""
        seller = f"seller_{uuid.uuid4().hex[:10]}"
        order = await self.base.pay(seller, amount)
        await self.base.release(order)
        net = D(amount) * D("0.9")
        await self.base.settled_at(seller, available=f"{net:.2f}")
        if destination is not None:
            await self.stub.CreateSeller(
                S.CreateSellerRequest(
                    request_id=new_request_id(), seller_account=seller, destination=destination
                ),
                timeout=10,
            )
        return seller

    async def pay_out(self, seller: str, amount: str = "", payout_id: str = "") -> S.Payout:
        reply = await self.stub.CreatePayout(
            S.CreatePayoutRequest(
                request_id=new_request_id(),
                payout_id=payout_id or f"pay_{uuid.uuid4().hex[:12]}",
                seller_account=seller,
                amount=amount,
                currency="USD",
            ),
            timeout=15,
        )
        return reply.payout

    async def final(self, payout_id: str, status: int, within: float = 30) -> S.Payout:
        async def reached() -> S.Payout | None:
            reply = await self.stub.GetPayout(S.GetPayoutRequest(payout_id=payout_id), timeout=10)
            return reply.payout if reply.payout.status == status else None

        return await eventually(reached, within=within)

    async def connected_account(self) -> str:
        """A connected account created at the sandbox, as a platform onboards a seller."""
        async with httpx.AsyncClient(base_url=self.base.psp_base) as client:
            reply = await client.post(
                "/v1/accounts",
                data={"type": "express", "country": "US", "email": "seller@example.com"},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
        assert reply.status_code == 200, reply.text
        return reply.json()["id"]  # type: ignore[no-any-return]

    async def provider_payouts(self, destination: str) -> list[dict]:  # type: ignore[type-arg]
        async with httpx.AsyncClient(base_url=self.base.psp_base) as client:
            reply = await client.get(
                "/v1/payouts",
                params={"limit": 100},
                headers={"Authorization": f"Bearer {API_KEY}", "Stripe-Account": destination},
            )
        return reply.json()["data"]  # type: ignore[no-any-return]


def payout_service(  # type: ignore[no-untyped-def]
    base: BucketMesh, database_url: str, nats_url: str, provider_timeout_s: float = 3.0
):
    """payout_svc started in-process against the mesh's wallet and sandbox."""
    wallet_addr = base.wallet.channel._channel.target.decode()

    def settings(grpc_addr: str) -> PayoutSettings:
        return PayoutSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            wallet_grpc_addr=wallet_addr,
            provider_api_base=base.psp_base,
            provider_api_key=API_KEY,
            provider_timeout_s=provider_timeout_s,
            sweep_interval_s=0.3,
            stuck_after_s=0.5,
            db_pool_size=6,
        )

    return started_service("payout_svc", "payout", start_payout, settings, database_url, nats_url)


@pytest.fixture
def provider_timeout_s() -> float:
    """How long payout_svc waits for the provider's answer (a test may parametrize it)."""
    return 3.0


@pytest.fixture
async def mesh(
    database_url: str, nats_url: str, tmp_path: Path, provider_timeout_s: float
) -> AsyncIterator[PayoutMesh]:
    async with running_mesh(database_url, nats_url, tmp_path) as base:
        async with payout_service(base, database_url, nats_url, provider_timeout_s) as payout:
            yield PayoutMesh(base, payout)
            assert payout.life.failed is None, f"a task died: {payout.life.failed!r}"


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert rich_status(err).details[0].Unpack(info)
    return info


def statuses(payout: S.Payout) -> list[str]:
    return [S.PayoutStatus.Name(h.to_status).removeprefix("PAYOUT_STATUS_") for h in payout.history]


def sample(name: str, **labels: str) -> float:
    """A figure as this process's registry holds it: payout_svc runs in-process here (as a
    process of its own, it serves that registry on PAYOUT_METRICS_ADDR)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def transitions() -> Counter[str]:
    return Counter(
        {s.value: sample("paymesh_payout_transitions_total", status=s.value) for s in PayoutStatus}
    )


async def test_a_payout_is_reserved_paid_and_captured(mesh: PayoutMesh) -> None:
    destination = await mesh.connected_account()
    seller = await mesh.seller_with_funds(destination)
    counted_before = transitions()
    payout = await mesh.pay_out(seller, "50.00")
    assert payout.status == S.PAYOUT_STATUS_RESERVED
    await mesh.base.settled_at(seller, available="40.00", reserved="50.00")

    paid = await mesh.final(payout.payout_id, S.PAYOUT_STATUS_PAID)
    assert statuses(paid)[:2] == ["REQUESTED", "RESERVED"] and statuses(paid)[-1] == "PAID"
    assert paid.provider_reference.startswith("po_")
    await mesh.base.settled_at(seller, available="40.00")
    at_provider = await mesh.provider_payouts(destination)
    assert [(p["amount"], p["metadata"]["payout_id"]) for p in at_provider] == [
        (5000, payout.payout_id)
    ]

    # The same payout asked again is the same payout; the rest is paid as "everything".
    again = await mesh.pay_out(seller, "50.00", payout_id=payout.payout_id)
    assert again.status == S.PAYOUT_STATUS_PAID
    rest = await mesh.pay_out(seller)
    assert rest.amount == "40.00"
    rest_paid = await mesh.final(rest.payout_id, S.PAYOUT_STATUS_PAID)

    # Each status both payouts went through counted once: the payout asked again changed
    # nothing and counted nothing. (Counted just after the commit the answer above read.)
    went_through = Counter(statuses(paid) + statuses(rest_paid))
    assert went_through["PAID"] == 2

    async def all_counted() -> bool:
        return transitions() - counted_before == went_through

    with contextlib.suppress(AssertionError):
        await eventually(all_counted, within=5)
    assert transitions() - counted_before == went_through
    await mesh.base.settled_at(seller)
    listed = await mesh.stub.ListSellerPayouts(
        S.ListSellerPayoutsRequest(seller_account=seller, page_size=1), timeout=10
    )
    assert [p.payout_id for p in listed.payouts] == [rest.payout_id] and listed.next_page_token
    report = await run_checks(
        mesh.base.database_url,
        lambda: list_charges_by_order(API_KEY, mesh.base.psp_base),
        payouts_at_provider=lambda d: list_payouts_by_id(API_KEY, mesh.base.psp_base, d),
    )
    assert report.ok, report.violations
    assert report.stats["payouts_by_status"]["PAID"] >= 2


async def test_refusals_reserve_nothing(mesh: PayoutMesh) -> None:
    seller = await mesh.seller_with_funds("")  # registered without a destination
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.pay_out(seller, "10.00")
    assert error_info(err.value).reason == "NO_PAYOUT_DESTINATION"
    await mesh.base.settled_at(seller, available="90.00")

    await mesh.stub.UpdateSellerSettings(
        S.UpdateSellerSettingsRequest(
            request_id=new_request_id(), seller_account=seller, destination="acct_later1"
        ),
        timeout=10,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.pay_out(seller, "90.01")
    info = error_info(err.value)
    assert (info.reason, info.metadata["available"]) == ("INSUFFICIENT_FUNDS", "90.00")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.pay_out("seller_nobody", "1.00")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mesh.pay_out(seller, "1.001")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await mesh.base.settled_at(seller, available="90.00")


@pytest.mark.parametrize(
    ("destination", "reason"),
    [("acct_sandboxFails1", "account_closed"), ("acct_sandboxNoFunds1", "balance_insufficient")],
)
async def test_a_failed_payout_releases_its_hold(
    mesh: PayoutMesh, destination: str, reason: str
) -> None:
    destination = f"{destination}{uuid.uuid4().hex[:6]}"
    seller = await mesh.seller_with_funds(destination)
    payout = await mesh.pay_out(seller, "30.00")
    failed = await mesh.final(payout.payout_id, S.PAYOUT_STATUS_FAILED)
    assert failed.failure_reason == reason
    await mesh.base.settled_at(seller, available="90.00")


async def test_a_paid_payout_the_bank_returns_gives_the_money_back(mesh: PayoutMesh) -> None:
    destination = f"acct_sandboxReturns{uuid.uuid4().hex[:6]}"
    seller = await mesh.seller_with_funds(destination)
    payout = await mesh.pay_out(seller, "90.00")
    await mesh.final(payout.payout_id, S.PAYOUT_STATUS_PAID)
    returned = await mesh.final(payout.payout_id, S.PAYOUT_STATUS_FAILED)
    assert statuses(returned)[-2:] == ["PAID", "FAILED"]
    await mesh.base.settled_at(seller, available="90.00")


@pytest.mark.parametrize(
    ("fault", "provider_timeout_s"),
    [
        # The provider made the transfer but its answer was lost (the connection cut).
        ("LostResponseOnce", 3.0),
        # The provider does not answer the transfer for the sandbox's 15 s (then a 500, having
        # done nothing): payout_svc gives up after its own timeout, well before that.
        ("TimeoutOnce", 1.0),
    ],
    ids=["lost_answer", "timeout"],
)
async def test_an_unknown_provider_outcome_is_asked_about_not_paid_again(
    mesh: PayoutMesh, fault: str
) -> None:
    destination = f"acct_sandbox{fault}{uuid.uuid4().hex[:6]}"
    seller = await mesh.seller_with_funds(destination)
    naks_before = sample("paymesh_consumer_naks_total", durable=EXECUTOR)
    payout = await mesh.pay_out(seller, "20.00")

    # The first call's outcome is unknown: the executor asks for the message again (for the
    # timeout, long before the sandbox would have answered: the adapter's own timeout fired).
    async def retried() -> bool:
        return sample("paymesh_consumer_naks_total", durable=EXECUTOR) > naks_before

    await eventually(retried, within=10)
    paid = await mesh.final(payout.payout_id, S.PAYOUT_STATUS_PAID, within=90)
    assert statuses(paid)[-1] == "PAID" and statuses(paid).count("PAID") == 1

    at_provider = await mesh.provider_payouts(destination)
    assert [(p["amount"], p["metadata"]["payout_id"]) for p in at_provider] == [
        (2000, payout.payout_id)
    ]
    # The hold was made once and captured once: no second reserve, no release, no return.
    async with mesh.base.wallet.engine.connect() as conn:
        hold = (
            await conn.execute(
                text("SELECT status, amount FROM wallet_holds WHERE hold_id = :h"),
                {"h": payout.payout_id},
            )
        ).one()
        moves = (
            await conn.execute(
                text("SELECT reason FROM wallet_moves WHERE reference = :h ORDER BY moved_at"),
                {"h": payout.payout_id},
            )
        ).scalars()
        assert (hold.status, hold.amount) == ("CAPTURED", D("20.00"))
        assert sorted(moves) == ["capture", "reserve"]
    await mesh.base.settled_at(seller, available="70.00")
    report = await run_checks(
        mesh.base.database_url,
        lambda: list_charges_by_order(API_KEY, mesh.base.psp_base),
        payouts_at_provider=lambda d: list_payouts_by_id(API_KEY, mesh.base.psp_base, d),
    )
    assert report.ok, report.violations


async def test_a_scheduled_run_made_twice_at_once_pays_once(mesh: PayoutMesh) -> None:
    destination = f"acct_sandbox{uuid.uuid4().hex[:12]}"
    seller = await mesh.seller_with_funds(destination)
    await mesh.stub.UpdateSellerSettings(
        S.UpdateSellerSettingsRequest(
            request_id=new_request_id(),
            seller_account=seller,
            schedule=S.PAYOUT_SCHEDULE_DAILY,
            minimums=[S.MinimumPayout(currency="USD", amount="50.00")],
        ),
        timeout=10,
    )
    today = datetime.now(UTC).date().isoformat()

    async def run() -> S.CreatePayoutRunResponse:
        return await mesh.stub.CreatePayoutRun(
            S.CreatePayoutRunRequest(request_id=new_request_id(), date=today), timeout=30
        )

    first, second = await asyncio.gather(run(), run())
    mine = [
        p.payout_id
        for reply in (first, second)
        for p in reply.payouts
        if p.seller_account == seller
    ]
    assert len(mine) == 2 and len(set(mine)) == 1
    await mesh.final(mine[0], S.PAYOUT_STATUS_PAID)
    assert len(await mesh.provider_payouts(destination)) == 1
    await mesh.base.settled_at(seller)


async def test_fifty_concurrent_payouts_never_exceed_available(mesh: PayoutMesh) -> None:
    destination = f"acct_sandbox{uuid.uuid4().hex[:12]}"
    seller = await mesh.seller_with_funds(destination)  # 90.00 available

    async def one(i: int) -> S.Payout | grpc.aio.AioRpcError:
        try:
            return await mesh.pay_out(seller, "10.00", payout_id=f"c50_{seller}_{i}")
        except grpc.aio.AioRpcError as err:
            return err

    results = await asyncio.gather(*(one(i) for i in range(50)))
    accepted = [r for r in results if isinstance(r, S.Payout)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert (len(accepted), len(refused)) == (9, 41)
    assert {error_info(r).reason for r in refused} == {"INSUFFICIENT_FUNDS"}
    for payout in accepted:
        await mesh.final(payout.payout_id, S.PAYOUT_STATUS_PAID)
    assert len(await mesh.provider_payouts(destination)) == 9
    await mesh.base.settled_at(seller)


async def test_payout_svc_stopped_mid_payout_finishes_it_once_restarted(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with running_mesh(database_url, nats_url, tmp_path) as base:
        # The provider answers slowly: the call is in flight when the service goes away.
        destination = f"acct_sandboxSlow{uuid.uuid4().hex[:6]}"
        async with payout_service(base, database_url, nats_url) as first:
            mesh = PayoutMesh(base, first)
            seller = await mesh.seller_with_funds(destination)
            payout = await mesh.pay_out(seller, "25.00")
            await asyncio.sleep(0.5)
        async with payout_service(base, database_url, nats_url) as second:
            mesh = PayoutMesh(base, second)
            await mesh.final(payout.payout_id, S.PAYOUT_STATUS_PAID)
            assert len(await mesh.provider_payouts(destination)) == 1
            await base.settled_at(seller, available="65.00")


@pytest.mark.breaks_invariants
async def test_paymesh_check_sees_a_hold_that_disagrees_with_its_payout(mesh: PayoutMesh) -> None:
    destination = f"acct_sandbox{uuid.uuid4().hex[:12]}"
    seller = await mesh.seller_with_funds(destination)
    payout = await mesh.pay_out(seller, "10.00")
    await mesh.final(payout.payout_id, S.PAYOUT_STATUS_PAID)
    await mesh.base.settled_at(seller, available="80.00")
    async with mesh.base.wallet.engine.begin() as conn:
        await conn.execute(
            text("UPDATE wallet_holds SET status = 'RELEASED' WHERE hold_id = :h"),
            {"h": payout.payout_id},
        )
    report = await run_checks(mesh.base.database_url)
    assert [v.invariant for v in report.violations] == ["hold_matches_payout"]
    assert payout.payout_id in report.violations[0].detail
