import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from paymesh.common.v1 import access_pb2 as _access_pb2
from paymesh.payment.v1 import payment_pb2 as _payment_pb2
from paymesh.payment.v1 import refunds_pb2 as _refunds_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_OPEN: _ClassVar[AlertState]
    ALERT_STATE_ACKNOWLEDGED: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_OPEN: AlertState
ALERT_STATE_ACKNOWLEDGED: AlertState
ALERT_STATE_RESOLVED: AlertState

class Alert(_message.Message):
    __slots__ = ("alert_id", "kind", "subject", "service", "detail", "state", "first_seen", "last_seen", "count", "acknowledged_at", "resolved_at")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    kind: str
    subject: str
    service: str
    detail: str
    state: AlertState
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    count: int
    acknowledged_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, alert_id: _Optional[str] = ..., kind: _Optional[str] = ..., subject: _Optional[str] = ..., service: _Optional[str] = ..., detail: _Optional[str] = ..., state: _Optional[_Union[AlertState, str]] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., count: _Optional[int] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("include_resolved", "limit")
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    limit: int
    def __init__(self, include_resolved: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class AcknowledgeAlertRequest(_message.Message):
    __slots__ = ("request_id", "alert_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    alert_id: str
    def __init__(self, request_id: _Optional[str] = ..., alert_id: _Optional[str] = ...) -> None: ...

class AcknowledgeAlertResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("seq", "dead_at", "consumer", "subject", "reason", "attempts", "failures", "first_error", "first_failed_at", "last_error", "last_failed_at", "original_msg_id", "original_stream", "original_seq", "event_id", "event_type", "aggregate_id", "headers", "payload")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DEAD_AT_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    FIRST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FIRST_FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_STREAM_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    seq: int
    dead_at: _timestamp_pb2.Timestamp
    consumer: str
    subject: str
    reason: str
    attempts: int
    failures: int
    first_error: str
    first_failed_at: str
    last_error: str
    last_failed_at: str
    original_msg_id: str
    original_stream: str
    original_seq: int
    event_id: str
    event_type: str
    aggregate_id: str
    headers: _containers.ScalarMap[str, str]
    payload: bytes
    def __init__(self, seq: _Optional[int] = ..., dead_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consumer: _Optional[str] = ..., subject: _Optional[str] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ..., failures: _Optional[int] = ..., first_error: _Optional[str] = ..., first_failed_at: _Optional[str] = ..., last_error: _Optional[str] = ..., last_failed_at: _Optional[str] = ..., original_msg_id: _Optional[str] = ..., original_stream: _Optional[str] = ..., original_seq: _Optional[int] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("consumer", "limit")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    consumer: str
    limit: int
    def __init__(self, consumer: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters",)
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetter]
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetter, _Mapping]]] = ...) -> None: ...

class GetDeadLetterRequest(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class GetDeadLetterResponse(_message.Message):
    __slots__ = ("dead_letter",)
    DEAD_LETTER_FIELD_NUMBER: _ClassVar[int]
    dead_letter: DeadLetter
    def __init__(self, dead_letter: _Optional[_Union[DeadLetter, _Mapping]] = ...) -> None: ...

class ReplayDeadLetterRequest(_message.Message):
    __slots__ = ("request_id", "seq")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seq: int
    def __init__(self, request_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class ReplayDeadLetterResponse(_message.Message):
    __slots__ = ("dead_letter",)
    DEAD_LETTER_FIELD_NUMBER: _ClassVar[int]
    dead_letter: DeadLetter
    def __init__(self, dead_letter: _Optional[_Union[DeadLetter, _Mapping]] = ...) -> None: ...

class DiscardDeadLetterRequest(_message.Message):
    __slots__ = ("request_id", "seq")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seq: int
    def __init__(self, request_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class DiscardDeadLetterResponse(_message.Message):
    __slots__ = ("dead_letter",)
    DEAD_LETTER_FIELD_NUMBER: _ClassVar[int]
    dead_letter: DeadLetter
    def __init__(self, dead_letter: _Optional[_Union[DeadLetter, _Mapping]] = ...) -> None: ...

class GetPspBreakerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPspBreakerResponse(_message.Message):
    __slots__ = ("state", "open_for_s")
    STATE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FOR_S_FIELD_NUMBER: _ClassVar[int]
    state: str
    open_for_s: float
    def __init__(self, state: _Optional[str] = ..., open_for_s: _Optional[float] = ...) -> None: ...

class LookupPaymentRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: str
    def __init__(self, query: _Optional[str] = ...) -> None: ...

class LookupPaymentResponse(_message.Message):
    __slots__ = ("matched_by", "checkout", "psp_events", "refunds")
    MATCHED_BY_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_FIELD_NUMBER: _ClassVar[int]
    PSP_EVENTS_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    matched_by: str
    checkout: _payment_pb2.Checkout
    psp_events: _containers.RepeatedCompositeFieldContainer[PspEvent]
    refunds: _containers.RepeatedCompositeFieldContainer[_refunds_pb2.Refund]
    def __init__(self, matched_by: _Optional[str] = ..., checkout: _Optional[_Union[_payment_pb2.Checkout, _Mapping]] = ..., psp_events: _Optional[_Iterable[_Union[PspEvent, _Mapping]]] = ..., refunds: _Optional[_Iterable[_Union[_refunds_pb2.Refund, _Mapping]]] = ...) -> None: ...

class PspEvent(_message.Message):
    __slots__ = ("event_id", "type", "payment_order_id", "psp_reference", "created_at", "received_at", "result")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PSP_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    payment_order_id: str
    psp_reference: str
    created_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    result: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., psp_reference: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[str] = ...) -> None: ...

class GetPaymentStatsRequest(_message.Message):
    __slots__ = ("minutes",)
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    minutes: int
    def __init__(self, minutes: _Optional[int] = ...) -> None: ...

class GetPaymentStatsResponse(_message.Message):
    __slots__ = ("minutes",)
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    minutes: _containers.RepeatedCompositeFieldContainer[PaymentMinute]
    def __init__(self, minutes: _Optional[_Iterable[_Union[PaymentMinute, _Mapping]]] = ...) -> None: ...

class PaymentMinute(_message.Message):
    __slots__ = ("minute", "orders_by_status", "psp_answers", "psp_latency_p50_ms", "psp_latency_p95_ms", "psp_latency_max_ms")
    class OrdersByStatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    ORDERS_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    PSP_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    PSP_LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    PSP_LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    PSP_LATENCY_MAX_MS_FIELD_NUMBER: _ClassVar[int]
    minute: _timestamp_pb2.Timestamp
    orders_by_status: _containers.ScalarMap[str, int]
    psp_answers: int
    psp_latency_p50_ms: int
    psp_latency_p95_ms: int
    psp_latency_max_ms: int
    def __init__(self, minute: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., orders_by_status: _Optional[_Mapping[str, int]] = ..., psp_answers: _Optional[int] = ..., psp_latency_p50_ms: _Optional[int] = ..., psp_latency_p95_ms: _Optional[int] = ..., psp_latency_max_ms: _Optional[int] = ...) -> None: ...
