import datetime

from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from paymesh.common.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WalletBucket(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WALLET_BUCKET_UNSPECIFIED: _ClassVar[WalletBucket]
    WALLET_BUCKET_PENDING: _ClassVar[WalletBucket]
    WALLET_BUCKET_AVAILABLE: _ClassVar[WalletBucket]
    WALLET_BUCKET_RESERVED: _ClassVar[WalletBucket]
    WALLET_BUCKET_DEBT: _ClassVar[WalletBucket]
    WALLET_BUCKET_PAID_OUT: _ClassVar[WalletBucket]
WALLET_BUCKET_UNSPECIFIED: WalletBucket
WALLET_BUCKET_PENDING: WalletBucket
WALLET_BUCKET_AVAILABLE: WalletBucket
WALLET_BUCKET_RESERVED: WalletBucket
WALLET_BUCKET_DEBT: WalletBucket
WALLET_BUCKET_PAID_OUT: WalletBucket

class Envelope(_message.Message):
    __slots__ = ("event_id", "event_type", "aggregate_id", "occurred_at", "payload", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    aggregate_id: str
    occurred_at: _timestamp_pb2.Timestamp
    payload: _any_pb2.Any
    headers: _containers.ScalarMap[str, str]
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payload: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PaymentOrderCreated(_message.Message):
    __slots__ = ("payment_order_id", "checkout_id")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    checkout_id: str
    def __init__(self, payment_order_id: _Optional[str] = ..., checkout_id: _Optional[str] = ...) -> None: ...

class PaymentOrderSucceeded(_message.Message):
    __slots__ = ("payment_order_id", "checkout_id", "seller_account", "amount", "fee", "psp_reference")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    PSP_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount: _money_pb2.Money
    fee: _money_pb2.Money
    psp_reference: str
    def __init__(self, payment_order_id: _Optional[str] = ..., checkout_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., psp_reference: _Optional[str] = ...) -> None: ...

class PaymentOrderFailed(_message.Message):
    __slots__ = ("payment_order_id", "checkout_id", "reason")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    checkout_id: str
    reason: str
    def __init__(self, payment_order_id: _Optional[str] = ..., checkout_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WalletCredited(_message.Message):
    __slots__ = ("payment_order_id", "seller_account", "net")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    seller_account: str
    net: _money_pb2.Money
    def __init__(self, payment_order_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class LedgerPosted(_message.Message):
    __slots__ = ("payment_order_id", "transaction_id")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    transaction_id: str
    def __init__(self, payment_order_id: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class PaymentRefundCreated(_message.Message):
    __slots__ = ("refund_id", "payment_order_id")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    payment_order_id: str
    def __init__(self, refund_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ...) -> None: ...

class PaymentRefundSucceeded(_message.Message):
    __slots__ = ("refund_id", "payment_order_id", "seller_account", "amount", "fee_refunded", "psp_reference")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    PSP_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: _money_pb2.Money
    fee_refunded: _money_pb2.Money
    psp_reference: str
    def __init__(self, refund_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., fee_refunded: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., psp_reference: _Optional[str] = ...) -> None: ...

class PaymentRefundFailed(_message.Message):
    __slots__ = ("refund_id", "payment_order_id", "reason")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    payment_order_id: str
    reason: str
    def __init__(self, refund_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PaymentOrderPending(_message.Message):
    __slots__ = ("payment_order_id", "checkout_id", "reason")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    checkout_id: str
    reason: str
    def __init__(self, payment_order_id: _Optional[str] = ..., checkout_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PaymentCheckoutDone(_message.Message):
    __slots__ = ("checkout_id", "orders")
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    checkout_id: str
    orders: _containers.RepeatedCompositeFieldContainer[CheckoutOrderOutcome]
    def __init__(self, checkout_id: _Optional[str] = ..., orders: _Optional[_Iterable[_Union[CheckoutOrderOutcome, _Mapping]]] = ...) -> None: ...

class CheckoutOrderOutcome(_message.Message):
    __slots__ = ("payment_order_id", "status")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    status: str
    def __init__(self, payment_order_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class PaymentOrderReleased(_message.Message):
    __slots__ = ("payment_order_id", "seller_account")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    seller_account: str
    def __init__(self, payment_order_id: _Optional[str] = ..., seller_account: _Optional[str] = ...) -> None: ...

class WalletMoved(_message.Message):
    __slots__ = ("move_id", "seller_account", "amount", "debit", "credit", "reason", "reference")
    MOVE_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DEBIT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    move_id: str
    seller_account: str
    amount: _money_pb2.Money
    debit: WalletBucket
    credit: WalletBucket
    reason: str
    reference: str
    def __init__(self, move_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., debit: _Optional[_Union[WalletBucket, str]] = ..., credit: _Optional[_Union[WalletBucket, str]] = ..., reason: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class PayoutReserved(_message.Message):
    __slots__ = ("payout_id",)
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    def __init__(self, payout_id: _Optional[str] = ...) -> None: ...

class PayoutPaid(_message.Message):
    __slots__ = ("payout_id", "seller_account", "amount", "provider_reference")
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    seller_account: str
    amount: _money_pb2.Money
    provider_reference: str
    def __init__(self, payout_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., provider_reference: _Optional[str] = ...) -> None: ...

class PayoutFailed(_message.Message):
    __slots__ = ("payout_id", "seller_account", "amount", "status", "reason", "returned")
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    seller_account: str
    amount: _money_pb2.Money
    status: str
    reason: str
    returned: bool
    def __init__(self, payout_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., returned: _Optional[bool] = ...) -> None: ...

class ReconMismatchOpened(_message.Message):
    __slots__ = ("mismatch_id", "type", "detail", "mismatch_class", "amount", "run_id", "suggested_action", "period")
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_CLASS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_ACTION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    type: str
    detail: str
    mismatch_class: int
    amount: _money_pb2.Money
    run_id: str
    suggested_action: str
    period: str
    def __init__(self, mismatch_id: _Optional[str] = ..., type: _Optional[str] = ..., detail: _Optional[str] = ..., mismatch_class: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., run_id: _Optional[str] = ..., suggested_action: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class AlertObserved(_message.Message):
    __slots__ = ("kind", "subject", "service", "detail", "active")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    subject: str
    service: str
    detail: str
    active: bool
    def __init__(self, kind: _Optional[str] = ..., subject: _Optional[str] = ..., service: _Optional[str] = ..., detail: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...
