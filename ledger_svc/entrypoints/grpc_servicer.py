"""paymesh.ledger.v1.LedgerService over the use cases (requests arrive validated)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from ledger_svc.domain import EntryRecord, Side
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import get_account_balance, list_entries, trial_balance
from mesh.money import format_amount
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc

SERVICE_NAME = "paymesh.ledger.v1.LedgerService"

_SIDES = {Side.DEBIT: ledger_pb2.SIDE_DEBIT, Side.CREDIT: ledger_pb2.SIDE_CREDIT}


def _entry(e: EntryRecord) -> ledger_pb2.Entry:
    entry = ledger_pb2.Entry(
        entry_id=e.entry_id,
        transaction_id=e.transaction_id,
        account=e.account,
        side=_SIDES[e.side],
        amount=format_amount(e.amount, e.currency),
        currency=e.currency,
        payment_order_id=e.payment_order_id or "",
        description=e.description,
    )
    entry.posted_at.FromDatetime(e.posted_at)
    return entry


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(self, uow_factory: Callable[[], LedgerUnitOfWork]) -> None:
        self.uow_factory = uow_factory

    async def GetAccountBalance(
        self, request: ledger_pb2.GetAccountBalanceRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetAccountBalanceResponse:
        side, balances = await get_account_balance(
            self.uow_factory(), request.account, request.currency
        )
        return ledger_pb2.GetAccountBalanceResponse(
            account=request.account,
            normal_side=_SIDES[side],
            balances=[
                ledger_pb2.AccountBalance(
                    currency=b.currency,
                    debits=format_amount(b.debits, b.currency),
                    credits=format_amount(b.credits, b.currency),
                    balance=format_amount(b.balance, b.currency),
                )
                for b in balances
            ],
        )

    async def ListEntries(
        self, request: ledger_pb2.ListEntriesRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListEntriesResponse:
        page, next_token = await list_entries(
            self.uow_factory(), request.account, request.page_size, request.page_token
        )
        return ledger_pb2.ListEntriesResponse(
            entries=[_entry(e) for e in page], next_page_token=next_token
        )

    async def GetTrialBalance(
        self, request: ledger_pb2.GetTrialBalanceRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetTrialBalanceResponse:
        totals = await trial_balance(self.uow_factory())
        return ledger_pb2.GetTrialBalanceResponse(
            currencies=[
                ledger_pb2.CurrencyTotals(
                    currency=t.currency,
                    debits=format_amount(t.debits, t.currency),
                    credits=format_amount(t.credits, t.currency),
                    balanced=t.balanced,
                )
                for t in totals
            ],
            balanced=all(t.balanced for t in totals),
        )
