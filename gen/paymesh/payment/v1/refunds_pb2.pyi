import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from paymesh.common.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_STATUS_PENDING: _ClassVar[RefundStatus]
    REFUND_STATUS_SUCCEEDED: _ClassVar[RefundStatus]
    REFUND_STATUS_FAILED: _ClassVar[RefundStatus]
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_STATUS_PENDING: RefundStatus
REFUND_STATUS_SUCCEEDED: RefundStatus
REFUND_STATUS_FAILED: RefundStatus

class CreateRefundRequest(_message.Message):
    __slots__ = ("request_id", "payment_order_id", "amount")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    payment_order_id: str
    amount: str
    def __init__(self, request_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class CreateRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: Refund
    def __init__(self, refund: _Optional[_Union[Refund, _Mapping]] = ...) -> None: ...

class GetRefundRequest(_message.Message):
    __slots__ = ("refund_id",)
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    def __init__(self, refund_id: _Optional[str] = ...) -> None: ...

class GetRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: Refund
    def __init__(self, refund: _Optional[_Union[Refund, _Mapping]] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("refund_id", "payment_order_id", "amount", "currency", "fee_refunded", "status", "psp_reference", "failure_reason", "created_at", "updated_at")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    FEE_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PSP_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    payment_order_id: str
    amount: str
    currency: str
    fee_refunded: str
    status: RefundStatus
    psp_reference: str
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, refund_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., fee_refunded: _Optional[str] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., psp_reference: _Optional[str] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SettleRefundRequest(_message.Message):
    __slots__ = ("request_id", "refund_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    refund_id: str
    def __init__(self, request_id: _Optional[str] = ..., refund_id: _Optional[str] = ...) -> None: ...

class SettleRefundResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RefundStatus
    def __init__(self, status: _Optional[_Union[RefundStatus, str]] = ...) -> None: ...

class RefundDuplicateChargeRequest(_message.Message):
    __slots__ = ("request_id", "payment_order_id", "psp_charge_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PSP_CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    payment_order_id: str
    psp_charge_id: str
    def __init__(self, request_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., psp_charge_id: _Optional[str] = ...) -> None: ...

class RefundDuplicateChargeResponse(_message.Message):
    __slots__ = ("psp_refund_id", "status", "amount", "currency", "psp_charge_id")
    PSP_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PSP_CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    psp_refund_id: str
    status: RefundStatus
    amount: str
    currency: str
    psp_charge_id: str
    def __init__(self, psp_refund_id: _Optional[str] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., psp_charge_id: _Optional[str] = ...) -> None: ...
