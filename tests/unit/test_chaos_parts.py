"""The parts of `paymesh chaos` that need no stack, and the gRPC mapping of a database outage
that chaos revealed (a wallet or ledger read while PostgreSQL restarts was a 500)."""

from __future__ import annotations

import random
import socket

import grpc
import pytest
from grpc_status import rpc_status
from sqlalchemy.exc import OperationalError

from mesh.grpc_server import GrpcServer
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh_cli.chaos_clients import DECLINING_CARD, plan_checkouts
from paymesh_cli.chaos_killer import plan_kills
from paymesh_cli.chaos_stack import VICTIMS
from paymesh_cli.chaos_verdict import _compare


def test_a_seed_gives_the_same_kills_and_checkouts_every_time():
    def plan(seed: int) -> tuple[object, object]:
        kills = plan_kills(random.Random(f"{seed}:kills"), 30, 2000)
        checkouts = plan_checkouts(random.Random(f"{seed}:checkouts"), str(seed), 50, 2, 0.15)
        return kills, [(c.idempotency_key, c.body) for c in checkouts]

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)


def test_kills_are_ordered_and_hit_every_kind_of_victim():
    kills = plan_kills(random.Random(1), 200, 2000)
    moments = [k.after_checkouts for k in kills]
    assert moments == sorted(moments)
    assert {k.victim for k in kills} == set(VICTIMS)
    assert all(0.2 <= k.pause_s <= 3.0 for k in kills)


def test_checkouts_mix_cards_that_pay_and_cards_that_decline():
    checkouts = plan_checkouts(random.Random(3), "r", 400, 3, 0.15)
    declining = sum(c.declines for c in checkouts)
    assert 20 < declining < 100
    assert all(1 <= len(c.order_ids) <= 3 for c in checkouts)
    assert len({c.idempotency_key for c in checkouts}) == 400
    assert all(c.body["payment_method"] in ("pm_card_visa", DECLINING_CARD) for c in checkouts)


def test_the_verdict_wants_one_charge_per_success_and_none_otherwise():
    paid, declined = plan_checkouts(random.Random(5), "r", 2, 1, 0.0)
    declined = type(declined)(
        declined.checkout_id,
        declined.idempotency_key,
        {**declined.body, "payment_method": DECLINING_CARD},
        declined.order_ids,
    )
    (ok_id,), (no_id,) = paid.order_ids, declined.order_ids
    orders = {ok_id: ("SUCCESS", True), no_id: ("FAILED", True)}
    assert _compare([paid, declined], orders, {ok_id: 1}) == []
    assert _compare([paid, declined], orders, {ok_id: 2}) != []
    assert _compare([paid, declined], orders, {ok_id: 1, no_id: 1}) != []
    assert _compare([paid, declined], orders, {}) != []
    assert _compare([paid, declined], orders, {ok_id: 1, "stranger": 1}) != []
    stuck = {ok_id: ("EXECUTING", False), no_id: ("FAILED", True)}
    assert _compare([paid, declined], stuck, {ok_id: 1}) != []


class _DatabaseDown(ledger_pb2_grpc.LedgerServiceServicer):
    async def GetTrialBalance(self, request, context):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.asyncio
async def test_a_database_outage_is_unavailable_not_internal():
    addr = f"127.0.0.1:{_free_port()}"
    name = ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"].full_name
    server = GrpcServer(
        addr, [(ledger_pb2_grpc.add_LedgerServiceServicer_to_server, _DatabaseDown(), name)]
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(addr) as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetTrialBalance(ledger_pb2.GetTrialBalanceRequest(), timeout=5)
    finally:
        await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    status = rpc_status.from_call(caught.value)
    assert status is not None and "connection refused" not in status.message


def test_outage_mode_keeps_each_victim_down_for_the_outage():
    kills = plan_kills(random.Random(3), 4, 100, outage_s=600.0)
    assert [k.pause_s for k in kills] == [600.0] * 4
    usual = plan_kills(random.Random(3), 4, 100)
    assert [(k.victim, k.after_checkouts) for k in kills] == [
        (k.victim, k.after_checkouts) for k in usual
    ]


def test_a_connection_lost_during_a_pipelined_commit_is_unavailable():
    """PostgreSQL killed while CreatePayment's COMMIT was in the driver's pipeline answered a
    client 500 in a ten-minute outage run: psycopg's own error, not SQLAlchemy's wrapper."""
    import psycopg

    from mesh.db import is_unavailable
    from mesh.transient import is_transient

    lost = psycopg.OperationalError("flush request failed: server closed the connection")
    assert is_unavailable(lost) and is_transient(lost)
    assert not is_unavailable(psycopg.errors.UniqueViolation("duplicate key"))
