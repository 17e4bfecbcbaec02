"""The wallet's holds over gRPC (the `Holds` port). Every call is idempotent on the hold id,
so a call whose answer was lost is simply made again. The wallet's refusals come back as the
`ServiceError` it raised (reason and metadata kept), a wallet out of reach as
`WalletUnavailable`."""

from __future__ import annotations

import uuid
from decimal import Decimal

import grpc

from mesh import tracing
from mesh.errors import Code, ServiceError
from mesh.grpc_errors import error_from_call
from mesh.money import format_amount
from mesh.tls import TlsFiles, secure_channel
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from payout_svc.service_layer.ports import Holds, WalletUnavailable

_UNAVAILABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def wallet_channel(address: str, tls: TlsFiles | None) -> grpc.aio.Channel:
    """The payout service's channel to the wallet: mutual TLS with its own certificate when
    the mesh uses it (the wallet lets `payout_svc` call, GRPC_ALLOWED_CALLERS), plain text
    without."""
    return secure_channel(address, tls, interceptors=tracing.client_interceptors())


def _refusal(err: grpc.aio.AioRpcError) -> Exception:
    if err.code() in _UNAVAILABLE:
        return WalletUnavailable(str(err.details()))
    return error_from_call(err)


class GrpcHolds(Holds):
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 10.0) -> None:
        self.stub = wallet_pb2_grpc.WalletServiceStub(channel)
        self.timeout_s = timeout_s

    async def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return await method(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            raise _refusal(err) from None

    async def reserve(
        self, hold_id: str, seller_account: str, amount: Decimal | None, currency: str
    ) -> Decimal:
        reply = await self._call(
            self.stub.ReserveFunds,
            wallet_pb2.ReserveFundsRequest(
                request_id=str(uuid.uuid4()),
                hold_id=hold_id,
                seller_account=seller_account,
                amount="" if amount is None else format_amount(amount, currency),
                currency=currency,
            ),
        )
        return Decimal(reply.hold.amount)

    async def capture(self, hold_id: str) -> None:
        await self._call(
            self.stub.CaptureFunds,
            wallet_pb2.CaptureFundsRequest(request_id=str(uuid.uuid4()), hold_id=hold_id),
        )

    async def release(self, hold_id: str) -> None:
        await self._call(
            self.stub.ReleaseFunds,
            wallet_pb2.ReleaseFundsRequest(request_id=str(uuid.uuid4()), hold_id=hold_id),
        )

    async def return_(self, hold_id: str) -> None:
        await self._call(
            self.stub.ReturnFunds,
            wallet_pb2.ReturnFundsRequest(request_id=str(uuid.uuid4()), hold_id=hold_id),
        )

    async def available(self, seller_account: str) -> dict[str, Decimal]:
        try:
            reply = await self._call(
                self.stub.GetBalance, wallet_pb2.GetBalanceRequest(seller_account=seller_account)
            )
        except ServiceError as err:
            if err.code is Code.NOT_FOUND:
                return {}
            raise
        return {b.currency: Decimal(b.available) for b in reply.balances}
