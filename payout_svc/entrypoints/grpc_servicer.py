"""paymesh.payout.v1.PayoutService over the use cases (requests arrive validated)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mesh.errors import FieldViolation, invalid_argument
from mesh.money import InvalidMoney, format_amount, parse_amount
from paymesh.payout.v1 import payout_pb2, payout_pb2_grpc
from payout_svc.domain import Payout, PayoutStatus, Schedule, Seller
from payout_svc.service_layer import payouts as use_payouts
from payout_svc.service_layer import sellers as use_sellers
from payout_svc.service_layer.payouts import NewUow, RequestPayout
from payout_svc.service_layer.ports import Clock, Holds
from payout_svc.service_layer.runs import run_payouts

SERVICE_NAME = "paymesh.payout.v1.PayoutService"
DEFAULT_PAGE_SIZE = 50

_SCHEDULES = {
    payout_pb2.PAYOUT_SCHEDULE_MANUAL: Schedule.MANUAL,
    payout_pb2.PAYOUT_SCHEDULE_DAILY: Schedule.DAILY,
    payout_pb2.PAYOUT_SCHEDULE_WEEKLY: Schedule.WEEKLY,
    payout_pb2.PAYOUT_SCHEDULE_MONTHLY: Schedule.MONTHLY,
}
_SCHEDULE_PB = {v: k for k, v in _SCHEDULES.items()}
_STATUS_PB = {s: getattr(payout_pb2, f"PAYOUT_STATUS_{s.value}") for s in PayoutStatus}


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def seller_to_proto(seller: Seller) -> payout_pb2.Seller:
    return payout_pb2.Seller(
        seller_account=seller.seller_account,
        destination=seller.destination,
        schedule=_SCHEDULE_PB[seller.schedule],
        weekday=seller.weekday,
        day_of_month=seller.day_of_month,
        minimums=[
            payout_pb2.MinimumPayout(currency=c, amount=format_amount(a, c))
            for c, a in sorted(seller.minimums.items())
        ],
    )


def payout_to_proto(payout: Payout) -> payout_pb2.Payout:
    return payout_pb2.Payout(
        payout_id=payout.payout_id,
        seller_account=payout.seller_account,
        amount=format_amount(payout.amount, payout.currency) if payout.amount is not None else "",
        currency=payout.currency,
        status=_STATUS_PB[payout.status],
        destination=payout.destination,
        provider_reference=payout.provider_reference,
        failure_reason=payout.failure_reason,
        history=[
            payout_pb2.StatusChange(
                from_status=_STATUS_PB[h.from_status] if h.from_status else 0,
                to_status=_STATUS_PB[h.to_status],
                reason=h.reason,
                occurred_at=_ts(h.occurred_at),
            )
            for h in payout.history
        ],
        created_at=_ts(payout.created_at),
    )


def _minimums(items: list[payout_pb2.MinimumPayout]) -> dict[str, Decimal]:
    found = {}
    for i, m in enumerate(items):
        try:
            found[m.currency] = parse_amount(m.amount, m.currency, allow_zero=True)
        except InvalidMoney as err:
            raise invalid_argument(
                [FieldViolation(f"minimums[{i}].amount", err.rule, str(err))]
            ) from None
    return found


def _page_token(payout: Payout) -> str:
    raw = f"{payout.created_at.isoformat()}|{payout.payout_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _before(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        at, payout_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), payout_id
    except ValueError:
        raise invalid_argument(
            [FieldViolation("page_token", "page_token", "not a token this service gave")]
        ) from None


@dataclass
class PayoutServicer(payout_pb2_grpc.PayoutServiceServicer):
    new_uow: NewUow
    holds: Holds
    clock: Clock

    async def CreateSeller(
        self, request: payout_pb2.CreateSellerRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.CreateSellerResponse:
        seller = use_sellers.new_seller(
            request.seller_account,
            request.destination,
            _SCHEDULES.get(request.schedule, Schedule.MANUAL),
            request.weekday,
            request.day_of_month or 1,
            _minimums(list(request.minimums)),
        )
        stored = await use_sellers.create_seller(self.new_uow(), seller)
        return payout_pb2.CreateSellerResponse(seller=seller_to_proto(stored))

    async def GetSeller(
        self, request: payout_pb2.GetSellerRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.GetSellerResponse:
        seller = await use_sellers.get_seller(self.new_uow(), request.seller_account)
        return payout_pb2.GetSellerResponse(seller=seller_to_proto(seller))

    async def UpdateSellerSettings(
        self, request: payout_pb2.UpdateSellerSettingsRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.UpdateSellerSettingsResponse:
        seller = await use_sellers.update_seller(
            self.new_uow(),
            request.seller_account,
            destination=request.destination if request.HasField("destination") else None,
            schedule=_SCHEDULES.get(request.schedule),
            weekday=request.weekday if request.HasField("weekday") else None,
            day_of_month=request.day_of_month if request.HasField("day_of_month") else None,
            minimums=_minimums(list(request.minimums)) if request.minimums else None,
        )
        return payout_pb2.UpdateSellerSettingsResponse(seller=seller_to_proto(seller))

    async def CreatePayout(
        self, request: payout_pb2.CreatePayoutRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.CreatePayoutResponse:
        payout = await use_payouts.request_payout(
            self.new_uow,
            self.holds,
            self.clock,
            RequestPayout(
                request.payout_id, request.seller_account, request.amount, request.currency
            ),
        )
        return payout_pb2.CreatePayoutResponse(
            payout_id=payout.payout_id, payout=payout_to_proto(payout)
        )

    async def GetPayout(
        self, request: payout_pb2.GetPayoutRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.GetPayoutResponse:
        payout = await use_payouts.get_payout(self.new_uow, request.payout_id)
        return payout_pb2.GetPayoutResponse(payout=payout_to_proto(payout))

    async def ListSellerPayouts(
        self, request: payout_pb2.ListSellerPayoutsRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.ListSellerPayoutsResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        async with self.new_uow() as uow:
            found = await uow.payouts.list_payouts(
                request.seller_account, _before(request.page_token), size + 1
            )
        page = found[:size]
        return payout_pb2.ListSellerPayoutsResponse(
            payouts=[payout_to_proto(p) for p in page],
            next_page_token=_page_token(page[-1]) if len(found) > size else "",
        )

    async def CreatePayoutRun(
        self, request: payout_pb2.CreatePayoutRunRequest, context: grpc.aio.ServicerContext
    ) -> payout_pb2.CreatePayoutRunResponse:
        try:
            day = date.fromisoformat(request.date) if request.date else datetime.now(UTC).date()
        except ValueError:
            raise invalid_argument(
                [FieldViolation("date", "date", f"{request.date!r} is not a date")]
            ) from None
        done, after = _run_cursor(request.page_token)
        report = await run_payouts(
            self.new_uow,
            self.holds,
            self.clock,
            day,
            after=after,
            limit=request.page_size or None,
        )
        done += report.looked_at
        return payout_pb2.CreatePayoutRunResponse(
            date=report.day,
            payouts=[payout_to_proto(p) for p in report.paid],
            skipped=[f"{s} {c}: {why}".strip() for s, c, why in report.skipped],
            next_page_token=_run_token(done, report.last_seller) if report.last_seller else "",
            sellers_on_schedule=report.on_schedule,
            sellers_done=done,
        )


def _run_token(done: int, last_seller: str) -> str:
    return base64.urlsafe_b64encode(f"{done}:{last_seller}".encode()).decode()


def _run_cursor(token: str) -> tuple[int, str]:
    """(sellers done, last seller account) of a payout run's page token; INVALID_ARGUMENT for
    one this service did not make."""
    if not token:
        return 0, ""
    try:
        done, _, after = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(done), after
    except (ValueError, UnicodeDecodeError):
        raise invalid_argument(
            [FieldViolation("page_token", "page_token", "not a token of a payout run")]
        ) from None
