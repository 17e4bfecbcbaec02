"""paymesh.wallet.v1.WalletService over the use cases (requests arrive validated)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from mesh.money import format_amount
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_svc.service_layer.ports import WalletUnitOfWork
from wallet_svc.service_layer.use_cases import get_balances

SERVICE_NAME = "paymesh.wallet.v1.WalletService"


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
                )
                for b in found
            ],
        )
