"""CreatePayment's idempotency over real gRPC and PostgreSQL: one key, one processing, whatever
the timing; the stored answer for a repeat; the key's space is the caller's; a crashed request's
key is taken over once its lease has run out; an expired key is forgotten."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import test_payment_svc
from sqlalchemy import text
from test_payment_svc import (
    Env,
    assert_invariants,
    create_request,
    error_info,
    new_request_id,
    settled_checkout,
    table_counts,
)

from mesh.grpc_server import REPLAYED_TRAILER
from payment_svc.entrypoints.mapping import request_hash
from paymesh.payment.v1 import payment_pb2

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

CALLER = "x-paymesh-key-id"
env = test_payment_svc.env  # the payment service in-process, as its own tests have it


async def call(
    e: Env, request: payment_pb2.CreatePaymentRequest, caller: str = ""
) -> tuple[payment_pb2.CreatePaymentResponse | grpc.aio.AioRpcError, bool]:
    """The answer (or the error) and whether it came marked as a replay."""
    metadata = ((CALLER, caller),) if caller else ()
    rpc = e.stub.CreatePayment(request, timeout=10, metadata=metadata)
    try:
        answer: payment_pb2.CreatePaymentResponse | grpc.aio.AioRpcError = await rpc
    except grpc.aio.AioRpcError as err:
        answer = err
    trailers = await rpc.trailing_metadata()
    return answer, tuple(REPLAYED_TRAILER) in {(k, v) for k, v in trailers or ()}


async def test_a_truly_concurrent_burst_with_one_key_is_processed_once(env: Env) -> None:
    request = create_request()

    results = await asyncio.gather(*(call(env, request) for _ in range(12)))

    fresh = [a for a, replayed in results if not replayed and not isinstance(a, Exception)]
    replays = [a for a, replayed in results if replayed]
    busy = [a for a, _ in results if isinstance(a, grpc.aio.AioRpcError)]
    assert len(fresh) == 1, "exactly one request is processed"
    assert len(fresh) + len(replays) + len(busy) == len(results)
    assert all(r == fresh[0] for r in replays)
    for err in busy:
        assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_info(err)
        assert (info.reason, info.metadata["retry_after_s"]) == ("IDEMPOTENCY_KEY_IN_USE", "1")
    counts = await table_counts(env)
    assert (counts["payment_events"], counts["payment_orders"], counts["idempotency_keys"]) == (
        1,
        2,
        1,
    )
    await settled_checkout(env, request.checkout_id)
    await assert_invariants(env)


async def test_a_replay_is_marked_and_identical(env: Env) -> None:
    request = create_request()
    first, first_replayed = await call(env, request)

    again, again_replayed = await call(env, request)

    assert (first_replayed, again_replayed) == (False, True)
    assert again == first
    await settled_checkout(env, request.checkout_id)
    await assert_invariants(env)


async def test_a_refusal_is_stored_and_replayed_with_the_same_status(env: Env) -> None:
    taken = create_request()
    await call(env, taken)
    same_ids = payment_pb2.CreatePaymentRequest()
    same_ids.CopyFrom(taken)
    same_ids.request_id = new_request_id()

    (first, first_replayed), (again, again_replayed) = [await call(env, same_ids) for _ in range(2)]

    assert isinstance(first, grpc.aio.AioRpcError) and isinstance(again, grpc.aio.AioRpcError)
    assert first.code() is again.code() is grpc.StatusCode.ALREADY_EXISTS
    assert (first.details(), first_replayed) == (again.details(), not again_replayed)
    await settled_checkout(env, taken.checkout_id)
    await assert_invariants(env)


async def test_keys_live_in_the_space_of_the_caller(env: Env) -> None:
    shared_key = new_request_id()
    alice = create_request(request_id=shared_key)
    bob = create_request(request_id=shared_key)

    (a, a_replayed), (b, b_replayed) = (
        await call(env, alice, "key_a"),
        await call(env, bob, "key_b"),
    )

    assert isinstance(a, payment_pb2.CreatePaymentResponse)
    assert isinstance(b, payment_pb2.CreatePaymentResponse)
    assert not a_replayed and not b_replayed
    assert (a.checkout.checkout_id, b.checkout.checkout_id) == (alice.checkout_id, bob.checkout_id)
    reused, _ = await call(env, bob, "key_a")  # alice's key space: another body under her key
    assert isinstance(reused, grpc.aio.AioRpcError)
    assert error_info(reused).reason == "IDEMPOTENCY_KEY_REUSED"
    for r in (alice, bob):
        await settled_checkout(env, r.checkout_id)
    await assert_invariants(env)


async def put_key(
    e: Env,
    request: payment_pb2.CreatePaymentRequest,
    *,
    state: str,
    locked_until: datetime | None,
    expires_at: datetime,
    response: bytes | None = None,
) -> None:
    async with e.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys (scope, request_id, request_hash, resource_id,"
                " state, lease_token, locked_until, response, created_at, expires_at)"
                " VALUES ('', :rid, :hash, :co, :state, :token, :locked_until, :response,"
                " now() - interval '1 hour', :expires_at)"
            ),
            {
                "rid": request.request_id,
                "hash": request_hash(request),
                "co": request.checkout_id,
                "state": state,
                "token": "00000000-0000-4000-8000-000000000000" if state == "in_flight" else None,
                "locked_until": locked_until,
                "response": response,
                "expires_at": expires_at,
            },
        )


async def test_a_crashed_request_s_key_is_busy_until_its_lease_runs_out(env: Env) -> None:
    now = datetime.now(UTC)
    live, crashed = create_request(), create_request()
    await put_key(
        env,
        live,
        state="in_flight",
        locked_until=now + timedelta(minutes=1),
        expires_at=now + timedelta(days=1),
    )
    await put_key(
        env,
        crashed,
        state="in_flight",
        locked_until=now - timedelta(seconds=1),
        expires_at=now + timedelta(days=1),
    )

    busy, _ = await call(env, live)
    taken_over, replayed = await call(env, crashed)

    assert isinstance(busy, grpc.aio.AioRpcError)
    assert error_info(busy).reason == "IDEMPOTENCY_KEY_IN_USE"
    assert isinstance(taken_over, payment_pb2.CreatePaymentResponse) and not replayed
    await settled_checkout(env, crashed.checkout_id)
    await assert_invariants(env)


async def test_an_expired_key_is_forgotten(env: Env) -> None:
    now = datetime.now(UTC)
    request = create_request()
    await put_key(
        env,
        request,
        state="done",
        locked_until=None,
        expires_at=now - timedelta(seconds=1),
        response=b"an answer nobody should see again",
    )

    answer, replayed = await call(env, request)

    assert isinstance(answer, payment_pb2.CreatePaymentResponse) and not replayed
    assert answer.checkout.checkout_id == request.checkout_id
    await settled_checkout(env, request.checkout_id)
    await assert_invariants(env)
