"""paymesh.notify.v1.NotifyService over the use cases. Requests arrive validated (the
contract's rules: URL form, known event types, UUID request ids); errors leave as
ServiceError, which the interceptor maps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mesh.db import is_unavailable
from mesh.errors import (
    RETRY_AFTER_KEY,
    Code,
    FieldViolation,
    ServiceError,
    invalid_argument,
    not_found,
)
from notify_svc.domain.endpoint import InvalidEndpointUrl
from notify_svc.service_layer.endpoints import (
    DISABLED_BY_HAND,
    CreateEndpoint,
    RequestReused,
    UnknownEndpoint,
    create_endpoint,
    disable_endpoint,
    get_endpoint,
    list_endpoints,
)
from notify_svc.service_layer.events import (
    NothingToRedeliver,
    UnknownEvent,
    event_log,
    redeliver,
)
from notify_svc.service_layer.ports import Endpoint, EventLog, NotifyUnitOfWork
from paymesh.notify.v1 import notify_pb2, notify_pb2_grpc

SERVICE_NAME = "paymesh.notify.v1.NotifyService"
# The API key the gateway authenticated: request ids live in that key's space.
CALLER_METADATA = "x-paymesh-key-id"
_STATUS = {
    "pending": notify_pb2.DELIVERY_STATUS_PENDING,
    "succeeded": notify_pb2.DELIVERY_STATUS_SUCCEEDED,
    "failed": notify_pb2.DELIVERY_STATUS_FAILED,
}


def _caller(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == CALLER_METADATA:
            return str(value)
    return ""


def _ts(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def endpoint_to_proto(e: Endpoint) -> notify_pb2.WebhookEndpoint:
    return notify_pb2.WebhookEndpoint(
        endpoint_id=e.endpoint_id,
        url=e.url,
        event_types=list(e.event_types),
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        description=e.description,
        created_at=_ts(e.created_at),
        disabled_at=_ts(e.disabled_at),
    )


def deliveries_to_proto(log: EventLog) -> list[notify_pb2.Delivery]:
    return [
        notify_pb2.Delivery(
            endpoint_id=d.endpoint_id,
            status=_STATUS[d.status],
            next_attempt_at=_ts(d.next_attempt_at),
            attempts=[
                notify_pb2.DeliveryAttempt(
                    attempt=a.attempt,
                    attempted_at=_ts(a.attempted_at),
                    http_status=a.http_status,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in d.attempts
            ],
        )
        for d in log.deliveries
    ]


@contextmanager
def _as_service_errors() -> Iterator[None]:
    try:
        yield
    except InvalidEndpointUrl as err:
        raise invalid_argument([FieldViolation("url", "endpoint_url", str(err))]) from err
    except RequestReused as err:
        raise ServiceError(
            Code.FAILED_PRECONDITION,
            "IDEMPOTENCY_KEY_REUSED",
            f"request_id {err} was already used with a different request",
            metadata={"request_id": str(err)},
        ) from err
    except UnknownEndpoint as err:
        raise not_found("endpoint_id", str(err)) from err
    except UnknownEvent as err:
        raise not_found("event_id", str(err)) from err
    except NothingToRedeliver as err:
        raise ServiceError(
            Code.FAILED_PRECONDITION,
            "NO_ENABLED_ENDPOINT",
            f"event {err} has no enabled endpoint to be sent to (or not the one named)",
            metadata={"event_id": str(err)},
        ) from err
    except Exception as err:
        if not is_unavailable(err):
            raise
        raise ServiceError(
            Code.UNAVAILABLE,
            "UNAVAILABLE",
            "the notify store is unavailable; retry with the same request_id",
            metadata={RETRY_AFTER_KEY: "1"},
        ) from err


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(
        self,
        new_uow: Callable[[], NotifyUnitOfWork],
        clock: Callable[[], datetime],
        *,
        allow_http_loopback: bool,
        redelivered: Callable[[], None] = lambda: None,
    ) -> None:
        self.new_uow = new_uow
        self.clock = clock
        self.allow_http_loopback = allow_http_loopback
        self.redelivered = redelivered

    async def CreateWebhookEndpoint(
        self, request: notify_pb2.CreateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.CreateWebhookEndpointResponse:
        cmd = CreateEndpoint(
            caller=_caller(context),
            request_id=request.request_id,
            url=request.url,
            event_types=tuple(request.event_types),
            description=request.description,
        )
        with _as_service_errors():
            endpoint, secret = await create_endpoint(
                self.new_uow(), cmd, allow_http_loopback=self.allow_http_loopback
            )
        return notify_pb2.CreateWebhookEndpointResponse(
            endpoint=endpoint_to_proto(endpoint), signing_secret=secret
        )

    async def ListWebhookEndpoints(
        self, request: notify_pb2.ListWebhookEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.ListWebhookEndpointsResponse:
        with _as_service_errors():
            found = await list_endpoints(self.new_uow())
        return notify_pb2.ListWebhookEndpointsResponse(
            endpoints=[endpoint_to_proto(e) for e in found]
        )

    async def GetWebhookEndpoint(
        self, request: notify_pb2.GetWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.GetWebhookEndpointResponse:
        with _as_service_errors():
            found = await get_endpoint(self.new_uow(), request.endpoint_id)
        return notify_pb2.GetWebhookEndpointResponse(endpoint=endpoint_to_proto(found))

    async def DisableWebhookEndpoint(
        self,
        request: notify_pb2.DisableWebhookEndpointRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_pb2.DisableWebhookEndpointResponse:
        with _as_service_errors():
            found = await disable_endpoint(
                self.new_uow(), request.endpoint_id, DISABLED_BY_HAND, self.clock
            )
        return notify_pb2.DisableWebhookEndpointResponse(endpoint=endpoint_to_proto(found))

    async def ListWebhookDeliveries(
        self,
        request: notify_pb2.ListWebhookDeliveriesRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_pb2.ListWebhookDeliveriesResponse:
        with _as_service_errors():
            log = await event_log(self.new_uow(), request.event_id)
        return notify_pb2.ListWebhookDeliveriesResponse(
            event_id=log.event_id, event_type=log.event_type, deliveries=deliveries_to_proto(log)
        )

    async def RedeliverWebhookEvent(
        self,
        request: notify_pb2.RedeliverWebhookEventRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_pb2.RedeliverWebhookEventResponse:
        with _as_service_errors():
            log = await redeliver(
                self.new_uow(),
                caller=_caller(context),
                request_id=request.request_id,
                event_id=request.event_id,
                endpoint_id=request.endpoint_id,
                clock=self.clock,
            )
        self.redelivered()
        deliveries = [
            d
            for d in deliveries_to_proto(log)
            if not request.endpoint_id or d.endpoint_id == request.endpoint_id
        ]
        return notify_pb2.RedeliverWebhookEventResponse(
            event_id=log.event_id, deliveries=deliveries
        )
