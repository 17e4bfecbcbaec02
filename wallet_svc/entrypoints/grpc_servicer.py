"""paymesh.wallet.v1.WalletService over the use cases (requests arrive validated)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from mesh.money import format_amount
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_svc.domain import Hold, HoldStatus
from wallet_svc.service_layer.holds import reserve_funds, settle_hold
from wallet_svc.service_layer.ports import WalletUnitOfWork
from wallet_svc.service_layer.use_cases import get_balances

SERVICE_NAME = "paymesh.wallet.v1.WalletService"

_HOLD_STATUS = {
    HoldStatus.RESERVED: wallet_pb2.HOLD_STATUS_RESERVED,
    HoldStatus.CAPTURED: wallet_pb2.HOLD_STATUS_CAPTURED,
    HoldStatus.RELEASED: wallet_pb2.HOLD_STATUS_RELEASED,
    HoldStatus.RETURNED: wallet_pb2.HOLD_STATUS_RETURNED,
}


def hold_to_proto(hold: Hold) -> wallet_pb2.Hold:
    return wallet_pb2.Hold(
        hold_id=hold.hold_id,
        seller_account=hold.seller_account,
        amount=format_amount(hold.amount, hold.currency),
        currency=hold.currency,
        status=_HOLD_STATUS[hold.status],
    )


class WalletServicer(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self, uow_factory: Callable[[], WalletUnitOfWork]) -> None:
        self.uow_factory = uow_factory

    async def GetBalance(
        self, request: wallet_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetBalanceResponse:
        found = await get_balances(self.uow_factory(), request.seller_account, request.currency)
        return wallet_pb2.GetBalanceResponse(
            seller_account=request.seller_account,
            balances=[
                wallet_pb2.Balance(
                    currency=b.currency,
                    pending=format_amount(b.pending, b.currency),
                    available=format_amount(b.available, b.currency),
                    reserved=format_amount(b.reserved, b.currency),
                    total=format_amount(b.total, b.currency),
                    debt=format_amount(b.debt, b.currency),
                )
                for b in found
            ],
        )

    async def ReserveFunds(
        self, request: wallet_pb2.ReserveFundsRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.ReserveFundsResponse:
        hold = await reserve_funds(
            self.uow_factory(),
            request.hold_id,
            request.seller_account,
            request.amount,
            request.currency,
        )
        return wallet_pb2.ReserveFundsResponse(hold=hold_to_proto(hold))

    async def CaptureFunds(
        self, request: wallet_pb2.CaptureFundsRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CaptureFundsResponse:
        hold = await settle_hold(self.uow_factory(), request.hold_id, "capture")
        return wallet_pb2.CaptureFundsResponse(hold=hold_to_proto(hold))

    async def ReleaseFunds(
        self, request: wallet_pb2.ReleaseFundsRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.ReleaseFundsResponse:
        hold = await settle_hold(self.uow_factory(), request.hold_id, "release_hold")
        return wallet_pb2.ReleaseFundsResponse(hold=hold_to_proto(hold))

    async def ReturnFunds(
        self, request: wallet_pb2.ReturnFundsRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.ReturnFundsResponse:
        hold = await settle_hold(self.uow_factory(), request.hold_id, "return")
        return wallet_pb2.ReturnFundsResponse(hold=hold_to_proto(hold))
