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

class PaymentOrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_ORDER_STATUS_UNSPECIFIED: _ClassVar[PaymentOrderStatus]
    PAYMENT_ORDER_STATUS_NOT_STARTED: _ClassVar[PaymentOrderStatus]
    PAYMENT_ORDER_STATUS_EXECUTING: _ClassVar[PaymentOrderStatus]
    PAYMENT_ORDER_STATUS_PENDING: _ClassVar[PaymentOrderStatus]
    PAYMENT_ORDER_STATUS_SUCCESS: _ClassVar[PaymentOrderStatus]
    PAYMENT_ORDER_STATUS_FAILED: _ClassVar[PaymentOrderStatus]

class PaymentFlow(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_FLOW_UNSPECIFIED: _ClassVar[PaymentFlow]
    PAYMENT_FLOW_DIRECT: _ClassVar[PaymentFlow]
    PAYMENT_FLOW_HOSTED: _ClassVar[PaymentFlow]

class RiskOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_OUTCOME_UNSPECIFIED: _ClassVar[RiskOutcome]
    RISK_OUTCOME_ALLOW: _ClassVar[RiskOutcome]
    RISK_OUTCOME_DENY: _ClassVar[RiskOutcome]
    RISK_OUTCOME_SKIP: _ClassVar[RiskOutcome]
PAYMENT_ORDER_STATUS_UNSPECIFIED: PaymentOrderStatus
PAYMENT_ORDER_STATUS_NOT_STARTED: PaymentOrderStatus
PAYMENT_ORDER_STATUS_EXECUTING: PaymentOrderStatus
PAYMENT_ORDER_STATUS_PENDING: PaymentOrderStatus
PAYMENT_ORDER_STATUS_SUCCESS: PaymentOrderStatus
PAYMENT_ORDER_STATUS_FAILED: PaymentOrderStatus
PAYMENT_FLOW_UNSPECIFIED: PaymentFlow
PAYMENT_FLOW_DIRECT: PaymentFlow
PAYMENT_FLOW_HOSTED: PaymentFlow
RISK_OUTCOME_UNSPECIFIED: RiskOutcome
RISK_OUTCOME_ALLOW: RiskOutcome
RISK_OUTCOME_DENY: RiskOutcome
RISK_OUTCOME_SKIP: RiskOutcome

class BuyerInfo(_message.Message):
    __slots__ = ("buyer_id", "email", "name")
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    email: str
    name: str
    def __init__(self, buyer_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class PaymentOrderInput(_message.Message):
    __slots__ = ("payment_order_id", "seller_account", "amount", "currency")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    seller_account: str
    amount: str
    currency: str
    def __init__(self, payment_order_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class CreatePaymentRequest(_message.Message):
    __slots__ = ("request_id", "checkout_id", "buyer_info", "payment_method", "payment_orders", "flow", "redirect_url")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_INFO_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    checkout_id: str
    buyer_info: BuyerInfo
    payment_method: str
    payment_orders: _containers.RepeatedCompositeFieldContainer[PaymentOrderInput]
    flow: PaymentFlow
    redirect_url: str
    def __init__(self, request_id: _Optional[str] = ..., checkout_id: _Optional[str] = ..., buyer_info: _Optional[_Union[BuyerInfo, _Mapping]] = ..., payment_method: _Optional[str] = ..., payment_orders: _Optional[_Iterable[_Union[PaymentOrderInput, _Mapping]]] = ..., flow: _Optional[_Union[PaymentFlow, str]] = ..., redirect_url: _Optional[str] = ...) -> None: ...

class CreatePaymentResponse(_message.Message):
    __slots__ = ("checkout",)
    CHECKOUT_FIELD_NUMBER: _ClassVar[int]
    checkout: Checkout
    def __init__(self, checkout: _Optional[_Union[Checkout, _Mapping]] = ...) -> None: ...

class GetPaymentOrderRequest(_message.Message):
    __slots__ = ("payment_order_id",)
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    def __init__(self, payment_order_id: _Optional[str] = ...) -> None: ...

class GetPaymentOrderResponse(_message.Message):
    __slots__ = ("payment_order",)
    PAYMENT_ORDER_FIELD_NUMBER: _ClassVar[int]
    payment_order: PaymentOrder
    def __init__(self, payment_order: _Optional[_Union[PaymentOrder, _Mapping]] = ...) -> None: ...

class GetCheckoutRequest(_message.Message):
    __slots__ = ("checkout_id",)
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    checkout_id: str
    def __init__(self, checkout_id: _Optional[str] = ...) -> None: ...

class ErasePersonalDataRequest(_message.Message):
    __slots__ = ("request_id", "buyer_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    buyer_id: str
    def __init__(self, request_id: _Optional[str] = ..., buyer_id: _Optional[str] = ...) -> None: ...

class ErasePersonalDataResponse(_message.Message):
    __slots__ = ("buyer_id", "checkouts_erased")
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUTS_ERASED_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    checkouts_erased: int
    def __init__(self, buyer_id: _Optional[str] = ..., checkouts_erased: _Optional[int] = ...) -> None: ...

class GetCheckoutResponse(_message.Message):
    __slots__ = ("checkout", "risk_decision")
    CHECKOUT_FIELD_NUMBER: _ClassVar[int]
    RISK_DECISION_FIELD_NUMBER: _ClassVar[int]
    checkout: Checkout
    risk_decision: RiskDecision
    def __init__(self, checkout: _Optional[_Union[Checkout, _Mapping]] = ..., risk_decision: _Optional[_Union[RiskDecision, _Mapping]] = ...) -> None: ...

class RiskDecision(_message.Message):
    __slots__ = ("outcome", "rule", "rules", "decided_at")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    outcome: RiskOutcome
    rule: str
    rules: _containers.RepeatedCompositeFieldContainer[RiskRuleResult]
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, outcome: _Optional[_Union[RiskOutcome, str]] = ..., rule: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RiskRuleResult, _Mapping]]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RiskRuleResult(_message.Message):
    __slots__ = ("rule", "outcome", "figures")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RULE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    rule: str
    outcome: RiskOutcome
    figures: _containers.ScalarMap[str, str]
    def __init__(self, rule: _Optional[str] = ..., outcome: _Optional[_Union[RiskOutcome, str]] = ..., figures: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Checkout(_message.Message):
    __slots__ = ("checkout_id", "buyer_id", "is_payment_done", "payment_orders", "created_at", "flow", "redirect_url", "buyer_email_masked", "buyer_pii_erased")
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    IS_PAYMENT_DONE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    BUYER_EMAIL_MASKED_FIELD_NUMBER: _ClassVar[int]
    BUYER_PII_ERASED_FIELD_NUMBER: _ClassVar[int]
    checkout_id: str
    buyer_id: str
    is_payment_done: bool
    payment_orders: _containers.RepeatedCompositeFieldContainer[PaymentOrder]
    created_at: _timestamp_pb2.Timestamp
    flow: PaymentFlow
    redirect_url: str
    buyer_email_masked: str
    buyer_pii_erased: bool
    def __init__(self, checkout_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., is_payment_done: _Optional[bool] = ..., payment_orders: _Optional[_Iterable[_Union[PaymentOrder, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., flow: _Optional[_Union[PaymentFlow, str]] = ..., redirect_url: _Optional[str] = ..., buyer_email_masked: _Optional[str] = ..., buyer_pii_erased: _Optional[bool] = ...) -> None: ...

class PaymentOrder(_message.Message):
    __slots__ = ("payment_order_id", "checkout_id", "seller_account", "amount", "currency", "fee_amount", "status", "wallet_updated", "ledger_updated", "psp_reference", "failure_reason", "created_at", "updated_at", "history", "payment_page_url", "attempts", "last_error", "next_attempt_at")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WALLET_UPDATED_FIELD_NUMBER: _ClassVar[int]
    LEDGER_UPDATED_FIELD_NUMBER: _ClassVar[int]
    PSP_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_PAGE_URL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount: str
    currency: str
    fee_amount: str
    status: PaymentOrderStatus
    wallet_updated: bool
    ledger_updated: bool
    psp_reference: str
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    history: _containers.RepeatedCompositeFieldContainer[StatusTransition]
    payment_page_url: str
    attempts: int
    last_error: str
    next_attempt_at: _timestamp_pb2.Timestamp
    def __init__(self, payment_order_id: _Optional[str] = ..., checkout_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., fee_amount: _Optional[str] = ..., status: _Optional[_Union[PaymentOrderStatus, str]] = ..., wallet_updated: _Optional[bool] = ..., ledger_updated: _Optional[bool] = ..., psp_reference: _Optional[str] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Iterable[_Union[StatusTransition, _Mapping]]] = ..., payment_page_url: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StatusTransition(_message.Message):
    __slots__ = ("from_status", "to_status", "reason", "occurred_at")
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    from_status: PaymentOrderStatus
    to_status: PaymentOrderStatus
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, from_status: _Optional[_Union[PaymentOrderStatus, str]] = ..., to_status: _Optional[_Union[PaymentOrderStatus, str]] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReleasePaymentOrderRequest(_message.Message):
    __slots__ = ("request_id", "payment_order_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    payment_order_id: str
    def __init__(self, request_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ...) -> None: ...

class ReleasePaymentOrderResponse(_message.Message):
    __slots__ = ("payment_order_id", "seller_account")
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    payment_order_id: str
    seller_account: str
    def __init__(self, payment_order_id: _Optional[str] = ..., seller_account: _Optional[str] = ...) -> None: ...

class SettlePaymentOrderRequest(_message.Message):
    __slots__ = ("request_id", "payment_order_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    payment_order_id: str
    def __init__(self, request_id: _Optional[str] = ..., payment_order_id: _Optional[str] = ...) -> None: ...

class SettlePaymentOrderResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: PaymentOrderStatus
    def __init__(self, status: _Optional[_Union[PaymentOrderStatus, str]] = ...) -> None: ...
