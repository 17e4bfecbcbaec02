"""Processing a mutating request at most once per idempotency key (CreatePayment, CreateRefund).

1. Claim the key (scope, request_id) in its own short transaction: the table's primary key makes
   one claim win; the others are told the key is in use (retry later), that it was used with
   another body, or given the stored answer.
2. The work runs; its transaction stores the answer on the key (`finish`) together with its
   effects. A refusal a retry cannot change (`Refused`) is stored as the answer too, so a
   replay gets the same status and body.
3. Anything else (a crash, the database gone) leaves no answer: the key is released, or its
   lease runs out, and a retry with the same key and body runs afresh.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from google.rpc import status_pb2

from mesh.errors import RETRY_AFTER_KEY, Code, ServiceError, from_rpc_status, to_rpc_status
from payment_svc.service_layer.ports import (
    Clock,
    IdempotencyClaim,
    IdempotencyRecord,
    KeyState,
    UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

RETRY_AFTER_S = "1"


@dataclass(frozen=True)
class IdempotencyPolicy:
    """How long an answered key is kept, and how long a claim may run before a retry of the
    same request may take it over (longer than any request can take)."""

    key_ttl: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class IdempotentRequest:
    scope: str  # whose key space: the caller's API key id, "" for a direct gRPC caller
    request_id: str  # the idempotency key
    request_hash: str  # fingerprint of the operation and the body, without the key
    resource_id: str  # what the request makes (checkout id, refund id)


@dataclass(frozen=True)
class IdempotentResult:
    response: bytes  # the serialized answer
    replayed: bool  # the stored answer of an earlier identical request


class Refused(Exception):
    """A refusal that is the request's answer, stored on its key and given again on a replay.
    `stored`: the work already stored it (`finish_refused`), with what the refusal records."""

    def __init__(self, error: ServiceError, *, stored: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.stored = stored


# The work: does the request's effects in a transaction that also calls `finish`, and returns
# the answer it stored.
Work = Callable[[IdempotencyClaim], Awaitable[bytes]]


def key_in_use(request_id: str) -> ServiceError:
    return ServiceError(
        Code.RESOURCE_EXHAUSTED,
        "IDEMPOTENCY_KEY_IN_USE",
        f"a request with request_id {request_id} is being processed; retry later",
        metadata={RETRY_AFTER_KEY: RETRY_AFTER_S, "request_id": request_id},
    )


def key_reused(request_id: str) -> ServiceError:
    return ServiceError(
        Code.FAILED_PRECONDITION,
        "IDEMPOTENCY_KEY_REUSED",
        f"request_id {request_id} was already used with a different request",
        metadata={"request_id": request_id},
    )


async def finish(tx: UnitOfWork, claim: IdempotencyClaim, response: bytes) -> None:
    """Store the answer on the key inside the work's transaction. If the lease ran out and a
    retry took the key over, that retry answers: raise, so that this transaction rolls back."""
    if not await tx.repo.finish_request(claim, response=response):
        raise key_in_use(claim.request_id)


async def finish_refused(tx: UnitOfWork, claim: IdempotencyClaim, error: ServiceError) -> None:
    """Store a refusal as the key's answer inside the work's transaction, for a refusal that
    writes a record of its own (raise `Refused(error, stored=True)` after the commit)."""
    if not await tx.repo.finish_request(claim, error=to_rpc_status(error).SerializeToString()):
        raise key_in_use(claim.request_id)


async def run_once(
    request: IdempotentRequest,
    work: Work,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: IdempotencyPolicy,
) -> IdempotentResult:
    now = clock()
    claim = IdempotencyClaim(
        scope=request.scope,
        request_id=request.request_id,
        request_hash=request.request_hash,
        resource_id=request.resource_id,
        token=str(uuid.uuid4()),
        now=now,
        lease_until=now + policy.lease,
        expires_at=now + policy.key_ttl,
    )
    async with uow() as tx:
        held = await tx.repo.claim_request(claim)
        if held is None:
            await tx.commit()
    if held is not None:
        return _answer_of(held, request)
    try:
        return IdempotentResult(await work(claim), replayed=False)
    except Refused as refused:
        if not refused.stored and not await _store_refusal(claim, refused.error, uow):
            # The key was taken over by a retry (our lease ran out), whose answer is the one
            # to give: what refused us may well be that retry's own doing.
            raise key_in_use(request.request_id) from None
        raise refused.error from None
    except BaseException:
        await _release(claim, uow)
        raise


def _answer_of(record: IdempotencyRecord, request: IdempotentRequest) -> IdempotentResult:
    """What a request gets for a key someone else claimed: the stored answer (a stored refusal
    is raised again), or why it cannot have one."""
    if record.request_hash != request.request_hash:
        raise key_reused(request.request_id)
    if record.state is KeyState.IN_FLIGHT:
        raise key_in_use(request.request_id)
    if record.error is not None:
        error = from_rpc_status(status_pb2.Status.FromString(record.error))
        error.replayed = True
        raise error
    assert record.response is not None  # a done key holds one of the two (table constraint)
    return IdempotentResult(record.response, replayed=True)


async def _store_refusal(
    claim: IdempotencyClaim, error: ServiceError, uow: UnitOfWorkFactory
) -> bool:
    """Store the refusal as the key's answer; False if the key is no longer ours."""
    try:
        async with uow() as tx:
            stored = await tx.repo.finish_request(
                claim, error=to_rpc_status(error).SerializeToString()
            )
            await tx.commit()
            return stored
    except Exception as err:
        # The refusal still reaches the caller; a retry is refused again on its merits.
        log.warning("could not store the refusal of %s (%s)", claim.request_id, err)
        await _release(claim, uow)
        return True


async def _release(claim: IdempotencyClaim, uow: UnitOfWorkFactory) -> None:
    """Best effort: if the database is gone too, the lease runs out instead."""
    try:
        async with uow() as tx:
            await tx.repo.release_request(claim)
            await tx.commit()
    except Exception as err:
        log.warning(
            "could not release idempotency key %s (%s); its lease will run out",
            claim.request_id,
            err,
        )
