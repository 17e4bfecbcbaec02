import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from paymesh.common.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayoutSchedule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_SCHEDULE_UNSPECIFIED: _ClassVar[PayoutSchedule]
    PAYOUT_SCHEDULE_MANUAL: _ClassVar[PayoutSchedule]
    PAYOUT_SCHEDULE_DAILY: _ClassVar[PayoutSchedule]
    PAYOUT_SCHEDULE_WEEKLY: _ClassVar[PayoutSchedule]
    PAYOUT_SCHEDULE_MONTHLY: _ClassVar[PayoutSchedule]

class PayoutStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_STATUS_UNSPECIFIED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_REQUESTED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_RESERVED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_SUBMITTED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_IN_TRANSIT: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_PAID: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_FAILED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_CANCELED: _ClassVar[PayoutStatus]
PAYOUT_SCHEDULE_UNSPECIFIED: PayoutSchedule
PAYOUT_SCHEDULE_MANUAL: PayoutSchedule
PAYOUT_SCHEDULE_DAILY: PayoutSchedule
PAYOUT_SCHEDULE_WEEKLY: PayoutSchedule
PAYOUT_SCHEDULE_MONTHLY: PayoutSchedule
PAYOUT_STATUS_UNSPECIFIED: PayoutStatus
PAYOUT_STATUS_REQUESTED: PayoutStatus
PAYOUT_STATUS_RESERVED: PayoutStatus
PAYOUT_STATUS_SUBMITTED: PayoutStatus
PAYOUT_STATUS_IN_TRANSIT: PayoutStatus
PAYOUT_STATUS_PAID: PayoutStatus
PAYOUT_STATUS_FAILED: PayoutStatus
PAYOUT_STATUS_CANCELED: PayoutStatus

class MinimumPayout(_message.Message):
    __slots__ = ("currency", "amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    amount: str
    def __init__(self, currency: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class Seller(_message.Message):
    __slots__ = ("seller_account", "destination", "schedule", "weekday", "day_of_month", "minimums")
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    MINIMUMS_FIELD_NUMBER: _ClassVar[int]
    seller_account: str
    destination: str
    schedule: PayoutSchedule
    weekday: int
    day_of_month: int
    minimums: _containers.RepeatedCompositeFieldContainer[MinimumPayout]
    def __init__(self, seller_account: _Optional[str] = ..., destination: _Optional[str] = ..., schedule: _Optional[_Union[PayoutSchedule, str]] = ..., weekday: _Optional[int] = ..., day_of_month: _Optional[int] = ..., minimums: _Optional[_Iterable[_Union[MinimumPayout, _Mapping]]] = ...) -> None: ...

class CreateSellerRequest(_message.Message):
    __slots__ = ("request_id", "seller_account", "destination", "schedule", "weekday", "day_of_month", "minimums")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    MINIMUMS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seller_account: str
    destination: str
    schedule: PayoutSchedule
    weekday: int
    day_of_month: int
    minimums: _containers.RepeatedCompositeFieldContainer[MinimumPayout]
    def __init__(self, request_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., destination: _Optional[str] = ..., schedule: _Optional[_Union[PayoutSchedule, str]] = ..., weekday: _Optional[int] = ..., day_of_month: _Optional[int] = ..., minimums: _Optional[_Iterable[_Union[MinimumPayout, _Mapping]]] = ...) -> None: ...

class CreateSellerResponse(_message.Message):
    __slots__ = ("seller",)
    SELLER_FIELD_NUMBER: _ClassVar[int]
    seller: Seller
    def __init__(self, seller: _Optional[_Union[Seller, _Mapping]] = ...) -> None: ...

class GetSellerRequest(_message.Message):
    __slots__ = ("seller_account",)
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    seller_account: str
    def __init__(self, seller_account: _Optional[str] = ...) -> None: ...

class GetSellerResponse(_message.Message):
    __slots__ = ("seller",)
    SELLER_FIELD_NUMBER: _ClassVar[int]
    seller: Seller
    def __init__(self, seller: _Optional[_Union[Seller, _Mapping]] = ...) -> None: ...

class UpdateSellerSettingsRequest(_message.Message):
    __slots__ = ("request_id", "seller_account", "destination", "schedule", "weekday", "day_of_month", "minimums")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    MINIMUMS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seller_account: str
    destination: str
    schedule: PayoutSchedule
    weekday: int
    day_of_month: int
    minimums: _containers.RepeatedCompositeFieldContainer[MinimumPayout]
    def __init__(self, request_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., destination: _Optional[str] = ..., schedule: _Optional[_Union[PayoutSchedule, str]] = ..., weekday: _Optional[int] = ..., day_of_month: _Optional[int] = ..., minimums: _Optional[_Iterable[_Union[MinimumPayout, _Mapping]]] = ...) -> None: ...

class UpdateSellerSettingsResponse(_message.Message):
    __slots__ = ("seller",)
    SELLER_FIELD_NUMBER: _ClassVar[int]
    seller: Seller
    def __init__(self, seller: _Optional[_Union[Seller, _Mapping]] = ...) -> None: ...

class CreatePayoutRequest(_message.Message):
    __slots__ = ("request_id", "seller_account", "amount", "currency", "payout_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seller_account: str
    amount: str
    currency: str
    payout_id: str
    def __init__(self, request_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., payout_id: _Optional[str] = ...) -> None: ...

class CreatePayoutResponse(_message.Message):
    __slots__ = ("payout_id", "payout")
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    payout: Payout
    def __init__(self, payout_id: _Optional[str] = ..., payout: _Optional[_Union[Payout, _Mapping]] = ...) -> None: ...

class StatusChange(_message.Message):
    __slots__ = ("from_status", "to_status", "reason", "occurred_at")
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    from_status: PayoutStatus
    to_status: PayoutStatus
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, from_status: _Optional[_Union[PayoutStatus, str]] = ..., to_status: _Optional[_Union[PayoutStatus, str]] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Payout(_message.Message):
    __slots__ = ("payout_id", "seller_account", "amount", "currency", "status", "destination", "provider_reference", "failure_reason", "history", "created_at")
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    seller_account: str
    amount: str
    currency: str
    status: PayoutStatus
    destination: str
    provider_reference: str
    failure_reason: str
    history: _containers.RepeatedCompositeFieldContainer[StatusChange]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, payout_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., status: _Optional[_Union[PayoutStatus, str]] = ..., destination: _Optional[str] = ..., provider_reference: _Optional[str] = ..., failure_reason: _Optional[str] = ..., history: _Optional[_Iterable[_Union[StatusChange, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPayoutRequest(_message.Message):
    __slots__ = ("payout_id",)
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    def __init__(self, payout_id: _Optional[str] = ...) -> None: ...

class GetPayoutResponse(_message.Message):
    __slots__ = ("payout",)
    PAYOUT_FIELD_NUMBER: _ClassVar[int]
    payout: Payout
    def __init__(self, payout: _Optional[_Union[Payout, _Mapping]] = ...) -> None: ...

class ListSellerPayoutsRequest(_message.Message):
    __slots__ = ("seller_account", "page_size", "page_token")
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    seller_account: str
    page_size: int
    page_token: str
    def __init__(self, seller_account: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSellerPayoutsResponse(_message.Message):
    __slots__ = ("payouts", "next_page_token")
    PAYOUTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payouts: _containers.RepeatedCompositeFieldContainer[Payout]
    next_page_token: str
    def __init__(self, payouts: _Optional[_Iterable[_Union[Payout, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePayoutRunRequest(_message.Message):
    __slots__ = ("request_id", "date", "page_size", "page_token")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    date: str
    page_size: int
    page_token: str
    def __init__(self, request_id: _Optional[str] = ..., date: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CreatePayoutRunResponse(_message.Message):
    __slots__ = ("date", "payouts", "skipped", "next_page_token", "sellers_on_schedule", "sellers_done")
    DATE_FIELD_NUMBER: _ClassVar[int]
    PAYOUTS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SELLERS_ON_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    SELLERS_DONE_FIELD_NUMBER: _ClassVar[int]
    date: str
    payouts: _containers.RepeatedCompositeFieldContainer[Payout]
    skipped: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    sellers_on_schedule: int
    sellers_done: int
    def __init__(self, date: _Optional[str] = ..., payouts: _Optional[_Iterable[_Union[Payout, _Mapping]]] = ..., skipped: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ..., sellers_on_schedule: _Optional[int] = ..., sellers_done: _Optional[int] = ...) -> None: ...
