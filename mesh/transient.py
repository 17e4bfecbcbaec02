"""Is a failure transient (a dependency out of reach, retry for as long as it takes) or the
message's own (bounded retries, then the dead-letter stream)?

Transient: `mesh.retry.Transient` and what services mark as such (the payment service's
`StoreUnavailable` and `PspUnavailable`, ...), the database out of reach (`mesh.db.is_unavailable`:
connection refused or lost, a server restarting, the pool timing out), NATS disconnected or
timing out, a gRPC call answered UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED, and a
plain connection error or timeout, here or anywhere along the chain of causes.
"""

from __future__ import annotations

import grpc
import nats.errors
import psycopg
from nats.js import errors as js_errors

from mesh.db import is_unavailable
from mesh.retry import Transient

_GRPC_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
_NATS_TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    js_errors.ServiceUnavailableError,
    js_errors.ServerError,
    js_errors.NoStreamResponseError,
)
# Connection failures, lost connections, serialization failures and deadlocks (all
# OperationalError), a closed connection (InterfaceError), when psycopg is used directly.
_PSYCOPG_TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)


def _transient_itself(err: BaseException) -> bool:
    if isinstance(err, Transient | ConnectionError | TimeoutError):
        return True
    if isinstance(err, _NATS_TRANSIENT) or isinstance(err, _PSYCOPG_TRANSIENT):
        return True
    if isinstance(err, grpc.RpcError) and callable(getattr(err, "code", None)):
        return err.code() in _GRPC_TRANSIENT
    return isinstance(err, Exception) and is_unavailable(err)


def is_transient(err: BaseException) -> bool:
    """True when `err`, or what caused it (`raise ... from`, or the error being handled when
    it was raised), says a dependency was out of reach rather than that the message is bad."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if _transient_itself(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return False
