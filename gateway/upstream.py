"""The gRPC services behind the gateway: one channel each, generic unary calls built from the
method descriptors, a deadline on every call, and the standard health check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.routes import (
    LEDGER_SERVICE,
    NOTIFY_SERVICE,
    OPS_SERVICE,
    PAYMENT_SERVICE,
    PAYOUT_SERVICE,
    RECON_SERVICE,
    REFUND_SERVICE,
    WALLET_SERVICE,
    MethodRoute,
)
from gateway.settings import GatewaySettings
from mesh import tracing
from mesh.grpc_server import REPLAYED_TRAILER
from mesh.request_ids import METADATA as REQUEST_ID_METADATA
from mesh.request_ids import current_request_id
from mesh.tls import TlsFiles, secure_channel


@dataclass(frozen=True)
class UpstreamReply:
    message: Message
    replayed: bool  # the stored answer of an earlier identical idempotent request


def is_replay(trailers: Any) -> bool:
    """Whether a call's trailing metadata marks its answer (or error) as a replay."""
    return tuple(REPLAYED_TRAILER) in {(k, v) for k, v in (trailers or ())}


def upstream_addresses(settings: GatewaySettings) -> dict[str, str]:
    """Address of each fronted service, by its full name."""
    return {
        PAYMENT_SERVICE.full_name: settings.payment_grpc_addr,
        # Served by the payment service.
        REFUND_SERVICE.full_name: settings.payment_grpc_addr,
        OPS_SERVICE.full_name: settings.payment_grpc_addr,
        WALLET_SERVICE.full_name: settings.wallet_grpc_addr,
        LEDGER_SERVICE.full_name: settings.ledger_grpc_addr,
        NOTIFY_SERVICE.full_name: settings.notify_grpc_addr,
        PAYOUT_SERVICE.full_name: settings.payout_grpc_addr,
        RECON_SERVICE.full_name: settings.recon_grpc_addr,
    }


class Upstreams:
    """Channels to the fronted services. Given channels belong to the caller; the ones made
    here (lazily, inside the running event loop; mutual TLS with `tls`) are closed by
    `close()`. A channel lives as long as the gateway: one TLS handshake per connection, not
    per call."""

    def __init__(
        self,
        addresses: Mapping[str, str],
        channels: Mapping[str, grpc.aio.Channel] | None = None,
        *,
        timeout_s: float = 10.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.addresses = dict(addresses)
        self.tls = tls
        self.timeout_s = timeout_s
        self._given = dict(channels or {})
        self._owned: dict[str, grpc.aio.Channel] = {}

    @property
    def services(self) -> list[str]:
        return sorted(set(self.addresses) | set(self._given))

    def channel(self, service: str) -> grpc.aio.Channel:
        if service in self._given:
            return self._given[service]
        if service not in self._owned:
            self._owned[service] = secure_channel(
                self.addresses[service], self.tls, interceptors=tracing.client_interceptors()
            )
        return self._owned[service]

    async def call(
        self, route: MethodRoute, request: Message, metadata: Sequence[tuple[str, str]] = ()
    ) -> UpstreamReply:
        """Call the route's RPC; raises grpc.aio.AioRpcError when it fails."""
        return await self.unary(
            route.service.full_name, route.rpc_path, request, route.response_type, metadata
        )

    async def unary(
        self,
        service: str,
        rpc_path: str,
        request: Message,
        response_type: type[Message],
        metadata: Sequence[tuple[str, str]] = (),
    ) -> UpstreamReply:
        """Call `rpc_path` on the channel of `service` (by full name), with the deadline;
        raises grpc.aio.AioRpcError when it fails."""
        callable_ = self.channel(service).unary_unary(
            rpc_path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        # The request id the gateway answers with, so the service's log lines carry it too.
        metadata = (*metadata, (REQUEST_ID_METADATA, current_request_id.get()))
        call = callable_(request, timeout=self.timeout_s, metadata=metadata)
        message = await call
        return UpstreamReply(message, is_replay(await call.trailing_metadata()))

    async def health(self, service: str, timeout_s: float = 2.0) -> str:
        """The service's health status name ("SERVING", ...), or the failed call's code name."""
        stub = health_pb2_grpc.HealthStub(self.channel(service))
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as err:
            return err.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def close(self) -> None:
        owned, self._owned = self._owned, {}
        for channel in owned.values():
            await channel.close()
