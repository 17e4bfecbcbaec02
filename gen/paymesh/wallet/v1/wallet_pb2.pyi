from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from paymesh.common.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HoldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATUS_UNSPECIFIED: _ClassVar[HoldStatus]
    HOLD_STATUS_RESERVED: _ClassVar[HoldStatus]
    HOLD_STATUS_CAPTURED: _ClassVar[HoldStatus]
    HOLD_STATUS_RELEASED: _ClassVar[HoldStatus]
    HOLD_STATUS_RETURNED: _ClassVar[HoldStatus]
HOLD_STATUS_UNSPECIFIED: HoldStatus
HOLD_STATUS_RESERVED: HoldStatus
HOLD_STATUS_CAPTURED: HoldStatus
HOLD_STATUS_RELEASED: HoldStatus
HOLD_STATUS_RETURNED: HoldStatus

class Hold(_message.Message):
    __slots__ = ("hold_id", "seller_account", "amount", "currency", "status")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    seller_account: str
    amount: str
    currency: str
    status: HoldStatus
    def __init__(self, hold_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., status: _Optional[_Union[HoldStatus, str]] = ...) -> None: ...

class ReserveFundsRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "seller_account", "amount", "currency")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    seller_account: str
    amount: str
    currency: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class ReserveFundsResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class CaptureFundsRequest(_message.Message):
    __slots__ = ("request_id", "hold_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ...) -> None: ...

class CaptureFundsResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class ReleaseFundsRequest(_message.Message):
    __slots__ = ("request_id", "hold_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ...) -> None: ...

class ReleaseFundsResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class ReturnFundsRequest(_message.Message):
    __slots__ = ("request_id", "hold_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ...) -> None: ...

class ReturnFundsResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("seller_account", "currency")
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    seller_account: str
    currency: str
    def __init__(self, seller_account: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("seller_account", "balances")
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    seller_account: str
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    def __init__(self, seller_account: _Optional[str] = ..., balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("currency", "pending", "available", "reserved", "total", "debt")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DEBT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    pending: str
    available: str
    reserved: str
    total: str
    debt: str
    def __init__(self, currency: _Optional[str] = ..., pending: _Optional[str] = ..., available: _Optional[str] = ..., reserved: _Optional[str] = ..., total: _Optional[str] = ..., debt: _Optional[str] = ...) -> None: ...
