from buf.validate import validate_pb2 as _validate_pb2
from paymesh.common.v1 import access_pb2 as _access_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePayoutRequest(_message.Message):
    __slots__ = ("request_id", "seller_account", "amount", "currency")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seller_account: str
    amount: str
    currency: str
    def __init__(self, request_id: _Optional[str] = ..., seller_account: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class CreatePayoutResponse(_message.Message):
    __slots__ = ("payout_id",)
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    def __init__(self, payout_id: _Optional[str] = ...) -> None: ...
