from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayoutWebhookOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_WEBHOOK_OUTCOME_UNSPECIFIED: _ClassVar[PayoutWebhookOutcome]
    PAYOUT_WEBHOOK_OUTCOME_APPLIED: _ClassVar[PayoutWebhookOutcome]
    PAYOUT_WEBHOOK_OUTCOME_DUPLICATE: _ClassVar[PayoutWebhookOutcome]
    PAYOUT_WEBHOOK_OUTCOME_IGNORED: _ClassVar[PayoutWebhookOutcome]
    PAYOUT_WEBHOOK_OUTCOME_MISMATCH: _ClassVar[PayoutWebhookOutcome]
PAYOUT_WEBHOOK_OUTCOME_UNSPECIFIED: PayoutWebhookOutcome
PAYOUT_WEBHOOK_OUTCOME_APPLIED: PayoutWebhookOutcome
PAYOUT_WEBHOOK_OUTCOME_DUPLICATE: PayoutWebhookOutcome
PAYOUT_WEBHOOK_OUTCOME_IGNORED: PayoutWebhookOutcome
PAYOUT_WEBHOOK_OUTCOME_MISMATCH: PayoutWebhookOutcome

class HandleStripeConnectWebhookRequest(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: str
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class HandleStripeConnectWebhookResponse(_message.Message):
    __slots__ = ("event_id", "outcome", "detail")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    outcome: PayoutWebhookOutcome
    detail: str
    def __init__(self, event_id: _Optional[str] = ..., outcome: _Optional[_Union[PayoutWebhookOutcome, str]] = ..., detail: _Optional[str] = ...) -> None: ...
