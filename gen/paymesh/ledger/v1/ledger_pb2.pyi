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

class PspBookingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PSP_BOOKING_KIND_UNSPECIFIED: _ClassVar[PspBookingKind]
    PSP_BOOKING_KIND_FEE: _ClassVar[PspBookingKind]
    PSP_BOOKING_KIND_PAYOUT: _ClassVar[PspBookingKind]

class PspBookingOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PSP_BOOKING_OUTCOME_UNSPECIFIED: _ClassVar[PspBookingOutcome]
    PSP_BOOKING_OUTCOME_BOOKED: _ClassVar[PspBookingOutcome]
    PSP_BOOKING_OUTCOME_ALREADY_BOOKED: _ClassVar[PspBookingOutcome]
SIDE_UNSPECIFIED: Side
SIDE_DEBIT: Side
SIDE_CREDIT: Side
PSP_BOOKING_KIND_UNSPECIFIED: PspBookingKind
PSP_BOOKING_KIND_FEE: PspBookingKind
PSP_BOOKING_KIND_PAYOUT: PspBookingKind
PSP_BOOKING_OUTCOME_UNSPECIFIED: PspBookingOutcome
PSP_BOOKING_OUTCOME_BOOKED: PspBookingOutcome
PSP_BOOKING_OUTCOME_ALREADY_BOOKED: PspBookingOutcome

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

class BookPspBalanceTransactionsRequest(_message.Message):
    __slots__ = ("request_id", "transactions")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    transactions: _containers.RepeatedCompositeFieldContainer[PspBalanceTransaction]
    def __init__(self, request_id: _Optional[str] = ..., transactions: _Optional[_Iterable[_Union[PspBalanceTransaction, _Mapping]]] = ...) -> None: ...

class PspBalanceTransaction(_message.Message):
    __slots__ = ("id", "reporting_category", "source_id", "currency", "gross", "fee", "payment_order_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REPORTING_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    reporting_category: str
    source_id: str
    currency: str
    gross: str
    fee: str
    payment_order_id: str
    def __init__(self, id: _Optional[str] = ..., reporting_category: _Optional[str] = ..., source_id: _Optional[str] = ..., currency: _Optional[str] = ..., gross: _Optional[str] = ..., fee: _Optional[str] = ..., payment_order_id: _Optional[str] = ...) -> None: ...

class PspBooking(_message.Message):
    __slots__ = ("balance_transaction_id", "kind", "outcome", "transaction_id", "amount", "currency")
    BALANCE_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    balance_transaction_id: str
    kind: PspBookingKind
    outcome: PspBookingOutcome
    transaction_id: str
    amount: str
    currency: str
    def __init__(self, balance_transaction_id: _Optional[str] = ..., kind: _Optional[_Union[PspBookingKind, str]] = ..., outcome: _Optional[_Union[PspBookingOutcome, str]] = ..., transaction_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class BookPspBalanceTransactionsResponse(_message.Message):
    __slots__ = ("bookings", "not_booked")
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    NOT_BOOKED_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[PspBooking]
    not_booked: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bookings: _Optional[_Iterable[_Union[PspBooking, _Mapping]]] = ..., not_booked: _Optional[_Iterable[str]] = ...) -> None: ...

class WriteOffToSuspenseRequest(_message.Message):
    __slots__ = ("request_id", "mismatch_id", "difference", "currency")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    mismatch_id: str
    difference: str
    currency: str
    def __init__(self, request_id: _Optional[str] = ..., mismatch_id: _Optional[str] = ..., difference: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class WriteOffToSuspenseResponse(_message.Message):
    __slots__ = ("booking",)
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    booking: ReconBooking
    def __init__(self, booking: _Optional[_Union[ReconBooking, _Mapping]] = ...) -> None: ...

class BookDuplicateChargeRefundRequest(_message.Message):
    __slots__ = ("request_id", "mismatch_id", "payment_order_id", "psp_charge_id", "psp_refund_id", "amount", "currency")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PSP_CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    PSP_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    mismatch_id: str
    payment_order_id: str
    psp_charge_id: str
    psp_refund_id: str
    amount: str
    currency: str
    def __init__(self, request_id: _Optional[str] = ..., mismatch_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., psp_charge_id: _Optional[str] = ..., psp_refund_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class BookDuplicateChargeRefundResponse(_message.Message):
    __slots__ = ("bookings",)
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[ReconBooking]
    def __init__(self, bookings: _Optional[_Iterable[_Union[ReconBooking, _Mapping]]] = ...) -> None: ...

class ReconBooking(_message.Message):
    __slots__ = ("transaction_id", "outcome", "description", "amount", "currency")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    outcome: PspBookingOutcome
    description: str
    amount: str
    currency: str
    def __init__(self, transaction_id: _Optional[str] = ..., outcome: _Optional[_Union[PspBookingOutcome, str]] = ..., description: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...
