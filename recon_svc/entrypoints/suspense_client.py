"""The ledger's bookings of the finance queue's decisions over gRPC (the `SuspenseBooks` port):
LedgerService.WriteOffToSuspense and BookDuplicateChargeRefund, each booking once per
mismatch or PSP id. Refusals come back as the ServiceError the ledger raised; a ledger out of
reach as FlowUnavailable."""

from __future__ import annotations

from decimal import Decimal

import grpc

from mesh import tracing
from mesh.money import format_amount
from mesh.tls import TlsFiles, secure_channel
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from recon_svc.entrypoints.payment_client import _refusal
from recon_svc.service_layer.ports import ChargeGivenBack, SuspenseBooks


def ledger_channel(address: str, tls: TlsFiles | None) -> grpc.aio.Channel:
    """recon's channel to the ledger (mutual TLS as `recon_svc` when the mesh uses it; the
    ledger lets it call, GRPC_ALLOWED_CALLERS)."""
    return secure_channel(address, tls, interceptors=tracing.client_interceptors())


class GrpcSuspenseBooks(SuspenseBooks):
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 30.0) -> None:
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        self.timeout_s = timeout_s

    async def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return await method(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            raise _refusal(err) from None

    async def write_off(
        self, request_id: str, mismatch_id: str, difference: Decimal, currency: str
    ) -> str:
        reply = await self._call(
            self.ledger.WriteOffToSuspense,
            ledger_pb2.WriteOffToSuspenseRequest(
                request_id=request_id,
                mismatch_id=mismatch_id,
                difference=format_amount(difference, currency),
                currency=currency,
            ),
        )
        return str(reply.booking.transaction_id)

    async def duplicate_charge_refunded(
        self, request_id: str, mismatch_id: str, payment_order_id: str, given_back: ChargeGivenBack
    ) -> list[str]:
        reply = await self._call(
            self.ledger.BookDuplicateChargeRefund,
            ledger_pb2.BookDuplicateChargeRefundRequest(
                request_id=request_id,
                mismatch_id=mismatch_id,
                payment_order_id=payment_order_id,
                psp_charge_id=given_back.psp_charge_id,
                psp_refund_id=given_back.psp_refund_id,
                amount=format_amount(given_back.amount, given_back.currency),
                currency=given_back.currency,
            ),
        )
        return [str(b.transaction_id) for b in reply.bookings]
