"""`run_once` where mutation testing found it unguarded (docs/mutation-testing.md): a refusal
whose storing fails still reaches the caller and frees the key; the errors that name a key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mesh.errors import Code, ServiceError
from payment_svc.service_layer.fake_uow import FakeStore, FakeUnitOfWork
from payment_svc.service_layer.idempotency import (
    IdempotencyPolicy,
    IdempotentRequest,
    Refused,
    finish,
    key_in_use,
    key_reused,
    run_once,
)
from payment_svc.service_layer.ports import IdempotencyClaim

KEY = "22222222-2222-4222-8222-222222222222"
REQUEST = IdempotentRequest(scope="key_a", request_id=KEY, request_hash="h1", resource_id="co_1")
NOW = datetime(2025, 1, 1, tzinfo=UTC)
POLICY = IdempotencyPolicy()
REFUSAL = ServiceError(Code.FAILED_PRECONDITION, "ORDER_NOT_REFUNDABLE", "no")


class DatabaseGoneAfterTheClaim(FakeStore):
    """Claims and releases work; storing an answer fails (the database went away)."""

    def uow(self) -> FakeUnitOfWork:
        tx = super().uow()

        async def finish_request(*args: object, **kwargs: object) -> bool:
            raise ConnectionError("database gone")

        tx.repo.finish_request = finish_request  # type: ignore[method-assign]
        return tx


async def refuse(claim: IdempotencyClaim) -> bytes:
    raise Refused(REFUSAL)


async def test_a_refusal_that_cannot_be_stored_still_reaches_the_caller_and_frees_the_key() -> None:
    store = DatabaseGoneAfterTheClaim()

    with pytest.raises(ServiceError) as info:
        await run_once(
            REQUEST, refuse, uow=store.uow, clock=lambda: NOW, policy=IdempotencyPolicy()
        )

    assert (info.value.reason, info.value.replayed) == ("ORDER_NOT_REFUNDABLE", False)
    assert store.state.idempotency == {}, "released: a retry is judged afresh, not kept waiting"


async def test_a_stored_refusal_is_the_key_s_answer() -> None:
    store = FakeStore()
    for replayed in (False, True):
        with pytest.raises(ServiceError) as info:
            await run_once(
                REQUEST, refuse, uow=store.uow, clock=lambda: NOW, policy=IdempotencyPolicy()
            )
        assert (info.value.reason, info.value.replayed) == ("ORDER_NOT_REFUNDABLE", replayed)


def test_the_key_errors_name_the_key_and_say_what_to_do() -> None:
    in_use, reused = key_in_use(KEY), key_reused(KEY)
    assert (in_use.code, in_use.reason) == (
        Code.RESOURCE_EXHAUSTED,
        "IDEMPOTENCY_KEY_IN_USE",
    )
    assert in_use.metadata == {"retry_after_s": "1", "request_id": KEY}
    assert KEY in in_use.message and "retry later" in in_use.message
    assert (reused.code, reused.reason) == (
        Code.FAILED_PRECONDITION,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert reused.metadata == {"request_id": KEY}
    assert KEY in reused.message and "different request" in reused.message
    assert str(Refused(REFUSAL)) == str(REFUSAL)


async def test_a_busy_or_reused_key_is_named_in_the_error() -> None:
    store = FakeStore()

    async def answer(claim: IdempotencyClaim) -> bytes:
        async with store.uow() as tx:
            await finish(tx, claim, b"answer")
            await tx.commit()
        return b"answer"

    async def busy(claim: IdempotencyClaim) -> bytes:
        with pytest.raises(ServiceError) as in_use:
            await run_once(REQUEST, answer, uow=store.uow, clock=lambda: NOW, policy=POLICY)
        assert (in_use.value.reason, in_use.value.metadata["request_id"]) == (
            "IDEMPOTENCY_KEY_IN_USE",
            KEY,
        )
        return await answer(claim)

    await run_once(REQUEST, busy, uow=store.uow, clock=lambda: NOW, policy=POLICY)
    other_body = IdempotentRequest("key_a", KEY, "h2", "co_1")
    with pytest.raises(ServiceError) as reused:
        await run_once(other_body, answer, uow=store.uow, clock=lambda: NOW, policy=POLICY)
    assert (reused.value.reason, reused.value.metadata) == (
        "IDEMPOTENCY_KEY_REUSED",
        {"request_id": KEY},
    )


async def test_a_request_whose_key_was_taken_over_cannot_answer_for_it() -> None:
    """Each claim holds a token of its own: once a retry has taken the key over (the first
    request's lease ran out), the first request can no longer store its answer, even while the
    retry is still at work. Otherwise both would be processed."""
    store = FakeStore()
    now = [NOW]
    first_refused: list[str] = []
    first_done = asyncio.Event()

    async def retry_work(claim: IdempotencyClaim) -> bytes:
        await first_done.wait()
        async with store.uow() as tx:
            await finish(tx, claim, b"retry")
            await tx.commit()
        return b"retry"

    async def first_work(claim: IdempotencyClaim) -> bytes:
        now[0] += POLICY.lease  # the first request stalls past its lease
        retry = asyncio.create_task(
            run_once(REQUEST, retry_work, uow=store.uow, clock=lambda: now[0], policy=POLICY)
        )
        await asyncio.sleep(0)  # the retry claims the key and starts its work
        try:
            async with store.uow() as tx:
                await finish(tx, claim, b"first")
                await tx.commit()
        except ServiceError as err:
            first_refused.append(err.reason)
        first_done.set()
        assert (await retry).response == b"retry"
        raise Refused(REFUSAL)  # what the first request answers does not matter here

    with pytest.raises(ServiceError):
        await run_once(REQUEST, first_work, uow=store.uow, clock=lambda: now[0], policy=POLICY)

    assert first_refused == ["IDEMPOTENCY_KEY_IN_USE"]
    assert store.state.idempotency[("key_a", KEY)].response == b"retry"
