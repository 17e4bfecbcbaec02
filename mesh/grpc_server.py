"""gRPC server bootstrap shared by every service: the mesh interceptor (validation at the
door, ServiceError → rich status, no stack trace to the caller, the caller's API key only from
the gateway's certificate), mutual TLS, health, reflection when asked for, and a graceful
stop."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from mesh import tracing
from mesh.db import is_unavailable
from mesh.errors import Code, ServiceError, internal_status, to_rpc_status
from mesh.metrics import IDEMPOTENCY_REPLAYS
from mesh.rpc_observer import RpcObserver
from mesh.tls import GATEWAY_IDENTITY, TlsFiles, peer_identity
from mesh.validation import validate

log = logging.getLogger(__name__)

Registrar = Callable[[Any, grpc.aio.Server], None]

# Trailing metadata on an answer (or error) that was stored earlier and is given again to a
# repeated idempotent request (AIP-155); the gateway turns it into `Idempotent-Replayed: true`.
REPLAYED_TRAILER = ("idempotent-replayed", "true")
_REPLAYED_ANSWERS = IDEMPOTENCY_REPLAYS.labels("answer")
_REPLAYED_ERRORS = IDEMPOTENCY_REPLAYS.labels("error")


DATABASE_UNAVAILABLE = ServiceError(
    Code.UNAVAILABLE,
    "UNAVAILABLE",
    "the service's database is unavailable; retry later with the same request",
)


# What the gateway tells a service about the API key it authenticated. Honoured only on calls
# whose verified client certificate is the gateway's; from anyone else they are ignored.
KEY_ID_METADATA = "x-paymesh-key-id"
KEY_SCOPES_METADATA = "x-paymesh-key-scopes"


@dataclass(frozen=True)
class Caller:
    """Who a call is on behalf of: the gateway's API key (id, scopes), or nobody ("")."""

    key_id: str = ""
    scopes: tuple[str, ...] = ()


ANONYMOUS = Caller()
# Who may call a service's RPCs by default: nothing but the gateway calls the services (they
# talk to each other through NATS). Health is open to any mesh certificate (probes).
ALLOWED_CALLERS = frozenset({GATEWAY_IDENTITY})
OPEN_METHODS = ("/grpc.health.v1.Health/",)
_caller: ContextVar[Caller] = ContextVar("paymesh_caller", default=ANONYMOUS)


def current_caller() -> Caller:
    """The caller of the call being handled, as the interceptor established it."""
    return _caller.get()


def caller_from(metadata: Any) -> Caller:
    key_id, scopes = "", ""
    for key, value in metadata or ():
        if key == KEY_ID_METADATA:
            key_id = str(value)
        elif key == KEY_SCOPES_METADATA:
            scopes = str(value)
    return Caller(key_id, tuple(s for s in scopes.replace(",", " ").split() if s))


class _Status(grpc.Status):
    """A status with trailing metadata of our own beside the rich details."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple) -> None:  # type: ignore[type-arg]
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def error_status(err: ServiceError) -> grpc.Status:
    """The gRPC status for a ServiceError: the rich status, marked when it is a replay."""
    status = rpc_status.to_status(to_rpc_status(err))
    if not err.replayed:
        return status
    _REPLAYED_ERRORS.inc()
    return _Status(status.code, status.details, (*status.trailing_metadata, REPLAYED_TRAILER))


def mark_replayed(context: grpc.aio.ServicerContext) -> None:
    """Tell the caller that this answer is the stored one of an earlier identical request."""
    _REPLAYED_ANSWERS.inc()
    context.set_trailing_metadata((REPLAYED_TRAILER,))


class MeshInterceptor(grpc.aio.ServerInterceptor):
    """Validates every unary request against its contract before the servicer sees it, and maps
    errors to statuses: `ServiceError` keeps its code and details, anything else is INTERNAL.
    Sets `current_caller()`: the API key metadata counts only when the verified client
    certificate is the gateway's (with `mutual_tls` off, a dev/test convenience that
    PAYMESH_ENV=production refuses, every caller is believed)."""

    def __init__(
        self, mutual_tls: bool = False, allowed_callers: frozenset[str] = ALLOWED_CALLERS
    ) -> None:
        self.mutual_tls = mutual_tls
        self.allowed_callers = allowed_callers

    def refusal(self, context: grpc.aio.ServicerContext, method: str) -> ServiceError | None:
        """Why this caller may not call `method`: with mutual TLS, only `allowed_callers`
        may call the service's own RPCs (health answers any mesh certificate)."""
        if not self.mutual_tls or method.startswith(OPEN_METHODS):
            return None
        identity = peer_identity(context)
        if identity in self.allowed_callers:
            return None
        return ServiceError(
            Code.PERMISSION_DENIED,
            "CALLER_NOT_ALLOWED",
            f"{identity or 'a caller without a mesh identity'} may not call {method}",
        )

    def caller(self, context: grpc.aio.ServicerContext) -> Caller:
        if self.mutual_tls and peer_identity(context) != GATEWAY_IDENTITY:
            return ANONYMOUS
        return caller_from(context.invocation_metadata())

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            _caller.set(self.caller(context))  # this call's own task: seen by the servicer only
            try:
                if (refused := self.refusal(context, method)) is not None:
                    raise refused
                validate(request)
                return await inner(request, context)
            except ServiceError as err:
                await context.abort_with_status(error_status(err))
            except grpc.aio.AbortError:
                raise
            except Exception as err:
                if is_unavailable(err):
                    # The database is down or restarting: the caller may retry (HTTP 503), it
                    # is not our bug (500). The driver's text stays in our log.
                    log.warning("database unavailable in %s: %s", method, type(err).__name__)
                    await context.abort_with_status(error_status(DATABASE_UNAVAILABLE))
                log.exception("unhandled error in %s", method)
                await context.abort_with_status(rpc_status.to_status(internal_status()))

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


# Clients spread calls over every replica they resolved (mesh.grpc_targets); a connection that
# is closed now and then (calls in flight finish first) makes them resolve the service's name
# again, so replicas added by an autoscaler get calls within minutes, not never.
CONNECTION_AGE_OPTIONS = [
    ("grpc.max_connection_age_ms", 5 * 60 * 1000),
    ("grpc.max_connection_age_grace_ms", 30 * 1000),
]


class GrpcServer:
    """One service's gRPC server on `addr`: its servicers, health (per service and overall),
    and reflection only when `reflection` is set. With `tls`, only clients with a certificate
    signed by the mesh's CA can connect at all, and only `allowed_callers` may call more than
    health."""

    def __init__(
        self,
        addr: str,
        servicers: Sequence[tuple[Registrar, Any, str]],
        extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        *,
        tls: TlsFiles | None = None,
        reflection_enabled: bool = False,
        allowed_callers: frozenset[str] = ALLOWED_CALLERS,
        health_addr: str = "",
    ) -> None:
        self.addr = addr
        # OpenTelemetry first, so a span covers validation and errors too (only when tracing
        # is on: mesh.tracing). RpcObserver next: the request id for every log line, the count
        # and latency of each call.
        self.server = grpc.aio.server(
            interceptors=[
                *tracing.server_interceptors(),
                RpcObserver(),
                *extra_interceptors,
                MeshInterceptor(mutual_tls=tls is not None, allowed_callers=allowed_callers),
            ],
            options=CONNECTION_AGE_OPTIONS,
        )
        self.health = health.aio.HealthServicer()
        self.service_names = [name for _, _, name in servicers]
        for register, servicer, _ in servicers:
            register(servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if reflection_enabled:  # a map of every RPC: for debugging, not for production
            reflection.enable_server_reflection(
                [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
            )
        if tls is None:
            self.port = self.server.add_insecure_port(addr)
        else:
            self.port = self.server.add_secure_port(addr, tls.server_credentials())
        # Health alone, in plain text, for probes that cannot present a certificate (kubelet's
        # gRPC probe): it tells SERVING or not, and serves nothing else.
        self.health_server: grpc.aio.Server | None = None
        self.health_port = 0
        if health_addr:
            self.health_server = grpc.aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            self.health_port = self.health_server.add_insecure_port(health_addr)

    async def start(self) -> None:
        await self.server.start()
        if self.health_server is not None:
            await self.health_server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC listening on %s (port %d)", self.addr, self.port)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls (health says NOT_SERVING first), let calls in flight finish."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(0)
