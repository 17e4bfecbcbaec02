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

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_DEBIT: _ClassVar[Side]
    SIDE_CREDIT: _ClassVar[Side]
SIDE_UNSPECIFIED: Side
SIDE_DEBIT: Side
SIDE_CREDIT: Side

class GetAccountBalanceRequest(_message.Message):
    __slots__ = ("account", "currency")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    account: str
    currency: str
    def __init__(self, account: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class GetAccountBalanceResponse(_message.Message):
    __slots__ = ("account", "normal_side", "balances")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NORMAL_SIDE_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    account: str
    normal_side: Side
    balances: _containers.RepeatedCompositeFieldContainer[AccountBalance]
    def __init__(self, account: _Optional[str] = ..., normal_side: _Optional[_Union[Side, str]] = ..., balances: _Optional[_Iterable[_Union[AccountBalance, _Mapping]]] = ...) -> None: ...

class AccountBalance(_message.Message):
    __slots__ = ("currency", "debits", "credits", "balance")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DEBITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    currency: str
    debits: str
    credits: str
    balance: str
    def __init__(self, currency: _Optional[str] = ..., debits: _Optional[str] = ..., credits: _Optional[str] = ..., balance: _Optional[str] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("account", "page_size", "page_token")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account: str
    page_size: int
    page_token: str
    def __init__(self, account: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("entry_id", "transaction_id", "account", "side", "amount", "currency", "payment_order_id", "description", "posted_at")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    transaction_id: str
    account: str
    side: Side
    amount: str
    currency: str
    payment_order_id: str
    description: str
    posted_at: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[int] = ..., transaction_id: _Optional[str] = ..., account: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., description: _Optional[str] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTrialBalanceRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTrialBalanceResponse(_message.Message):
    __slots__ = ("currencies", "balanced")
    CURRENCIES_FIELD_NUMBER: _ClassVar[int]
    BALANCED_FIELD_NUMBER: _ClassVar[int]
    currencies: _containers.RepeatedCompositeFieldContainer[CurrencyTotals]
    balanced: bool
    def __init__(self, currencies: _Optional[_Iterable[_Union[CurrencyTotals, _Mapping]]] = ..., balanced: _Optional[bool] = ...) -> None: ...

class CurrencyTotals(_message.Message):
    __slots__ = ("currency", "debits", "credits", "balanced")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DEBITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    BALANCED_FIELD_NUMBER: _ClassVar[int]
    currency: str
    debits: str
    credits: str
    balanced: bool
    def __init__(self, currency: _Optional[str] = ..., debits: _Optional[str] = ..., credits: _Optional[str] = ..., balanced: _Optional[bool] = ...) -> None: ...
