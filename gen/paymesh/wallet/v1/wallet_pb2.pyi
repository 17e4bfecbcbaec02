from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from paymesh.common.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("currency", "pending", "available", "reserved", "total")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    currency: str
    pending: str
    available: str
    reserved: str
    total: str
    def __init__(self, currency: _Optional[str] = ..., pending: _Optional[str] = ..., available: _Optional[str] = ..., reserved: _Optional[str] = ..., total: _Optional[str] = ...) -> None: ...
