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

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_RUNNING: _ClassVar[RunStatus]
    RUN_STATUS_SUCCEEDED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]

class MismatchClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISMATCH_CLASS_UNSPECIFIED: _ClassVar[MismatchClass]
    MISMATCH_CLASS_AUTO_FIXED: _ClassVar[MismatchClass]
    MISMATCH_CLASS_NEEDS_PERSON: _ClassVar[MismatchClass]
    MISMATCH_CLASS_UNCLASSIFIABLE: _ClassVar[MismatchClass]

class MismatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISMATCH_STATUS_UNSPECIFIED: _ClassVar[MismatchStatus]
    MISMATCH_STATUS_OPEN: _ClassVar[MismatchStatus]
    MISMATCH_STATUS_FIXED: _ClassVar[MismatchStatus]
    MISMATCH_STATUS_RESOLVED: _ClassVar[MismatchStatus]

class ResolutionAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOLUTION_ACTION_UNSPECIFIED: _ClassVar[ResolutionAction]
    RESOLUTION_ACTION_REFUND: _ClassVar[ResolutionAction]
    RESOLUTION_ACTION_ACCEPT: _ClassVar[ResolutionAction]
    RESOLUTION_ACTION_WRITE_OFF: _ClassVar[ResolutionAction]
    RESOLUTION_ACTION_NOTE: _ClassVar[ResolutionAction]
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_RUNNING: RunStatus
RUN_STATUS_SUCCEEDED: RunStatus
RUN_STATUS_FAILED: RunStatus
MISMATCH_CLASS_UNSPECIFIED: MismatchClass
MISMATCH_CLASS_AUTO_FIXED: MismatchClass
MISMATCH_CLASS_NEEDS_PERSON: MismatchClass
MISMATCH_CLASS_UNCLASSIFIABLE: MismatchClass
MISMATCH_STATUS_UNSPECIFIED: MismatchStatus
MISMATCH_STATUS_OPEN: MismatchStatus
MISMATCH_STATUS_FIXED: MismatchStatus
MISMATCH_STATUS_RESOLVED: MismatchStatus
RESOLUTION_ACTION_UNSPECIFIED: ResolutionAction
RESOLUTION_ACTION_REFUND: ResolutionAction
RESOLUTION_ACTION_ACCEPT: ResolutionAction
RESOLUTION_ACTION_WRITE_OFF: ResolutionAction
RESOLUTION_ACTION_NOTE: ResolutionAction

class CurrencyTotals(_message.Message):
    __slots__ = ("currency", "ours", "theirs", "difference")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    OURS_FIELD_NUMBER: _ClassVar[int]
    THEIRS_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    currency: str
    ours: str
    theirs: str
    difference: str
    def __init__(self, currency: _Optional[str] = ..., ours: _Optional[str] = ..., theirs: _Optional[str] = ..., difference: _Optional[str] = ...) -> None: ...

class RunReport(_message.Message):
    __slots__ = ("psp_rows", "order_rows", "refund_rows", "matched", "mismatched_by_type", "mismatched_by_class", "fixes", "totals", "new_mismatches", "duration_s", "error", "fees_to_book")
    class MatchedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class MismatchedByTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class MismatchedByClassEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class FixesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class FeesToBookEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PSP_ROWS_FIELD_NUMBER: _ClassVar[int]
    ORDER_ROWS_FIELD_NUMBER: _ClassVar[int]
    REFUND_ROWS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    MISMATCHED_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    MISMATCHED_BY_CLASS_FIELD_NUMBER: _ClassVar[int]
    FIXES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    NEW_MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FEES_TO_BOOK_FIELD_NUMBER: _ClassVar[int]
    psp_rows: int
    order_rows: int
    refund_rows: int
    matched: _containers.ScalarMap[str, int]
    mismatched_by_type: _containers.ScalarMap[str, int]
    mismatched_by_class: _containers.ScalarMap[str, int]
    fixes: _containers.ScalarMap[str, int]
    totals: _containers.RepeatedCompositeFieldContainer[CurrencyTotals]
    new_mismatches: int
    duration_s: float
    error: str
    fees_to_book: _containers.ScalarMap[str, str]
    def __init__(self, psp_rows: _Optional[int] = ..., order_rows: _Optional[int] = ..., refund_rows: _Optional[int] = ..., matched: _Optional[_Mapping[str, int]] = ..., mismatched_by_type: _Optional[_Mapping[str, int]] = ..., mismatched_by_class: _Optional[_Mapping[str, int]] = ..., fixes: _Optional[_Mapping[str, int]] = ..., totals: _Optional[_Iterable[_Union[CurrencyTotals, _Mapping]]] = ..., new_mismatches: _Optional[int] = ..., duration_s: _Optional[float] = ..., error: _Optional[str] = ..., fees_to_book: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("run_id", "period", "source", "status", "started_by", "started_at", "finished_at", "report")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    period: str
    source: str
    status: RunStatus
    started_by: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    report: RunReport
    def __init__(self, run_id: _Optional[str] = ..., period: _Optional[str] = ..., source: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., started_by: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., report: _Optional[_Union[RunReport, _Mapping]] = ...) -> None: ...

class Resolution(_message.Message):
    __slots__ = ("action", "resolved_by", "resolved_at", "note", "outcome")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    action: ResolutionAction
    resolved_by: str
    resolved_at: _timestamp_pb2.Timestamp
    note: str
    outcome: str
    def __init__(self, action: _Optional[_Union[ResolutionAction, str]] = ..., resolved_by: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ..., outcome: _Optional[str] = ...) -> None: ...

class Mismatch(_message.Message):
    __slots__ = ("mismatch_id", "type", "detail", "mismatch_class", "status", "period", "first_run_id", "last_run_id", "evidence", "suggested_action", "reason", "fix_rule", "resolutions", "created_at")
    class EvidenceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_CLASS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    FIRST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIX_RULE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    type: str
    detail: str
    mismatch_class: MismatchClass
    status: MismatchStatus
    period: str
    first_run_id: str
    last_run_id: str
    evidence: _containers.ScalarMap[str, str]
    suggested_action: str
    reason: str
    fix_rule: str
    resolutions: _containers.RepeatedCompositeFieldContainer[Resolution]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, mismatch_id: _Optional[str] = ..., type: _Optional[str] = ..., detail: _Optional[str] = ..., mismatch_class: _Optional[_Union[MismatchClass, str]] = ..., status: _Optional[_Union[MismatchStatus, str]] = ..., period: _Optional[str] = ..., first_run_id: _Optional[str] = ..., last_run_id: _Optional[str] = ..., evidence: _Optional[_Mapping[str, str]] = ..., suggested_action: _Optional[str] = ..., reason: _Optional[str] = ..., fix_rule: _Optional[str] = ..., resolutions: _Optional[_Iterable[_Union[Resolution, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartRunRequest(_message.Message):
    __slots__ = ("request_id", "period", "source")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    period: str
    source: str
    def __init__(self, request_id: _Optional[str] = ..., period: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class StartRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: Run
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: Run
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class ListMismatchesRequest(_message.Message):
    __slots__ = ("status", "mismatch_class", "type", "page_size", "page_token", "run_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_CLASS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    status: MismatchStatus
    mismatch_class: MismatchClass
    type: str
    page_size: int
    page_token: str
    run_id: str
    def __init__(self, status: _Optional[_Union[MismatchStatus, str]] = ..., mismatch_class: _Optional[_Union[MismatchClass, str]] = ..., type: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ListMismatchesResponse(_message.Message):
    __slots__ = ("mismatches", "next_page_token")
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    mismatches: _containers.RepeatedCompositeFieldContainer[Mismatch]
    next_page_token: str
    def __init__(self, mismatches: _Optional[_Iterable[_Union[Mismatch, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetMismatchRequest(_message.Message):
    __slots__ = ("mismatch_id",)
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    def __init__(self, mismatch_id: _Optional[str] = ...) -> None: ...

class GetMismatchResponse(_message.Message):
    __slots__ = ("mismatch",)
    MISMATCH_FIELD_NUMBER: _ClassVar[int]
    mismatch: Mismatch
    def __init__(self, mismatch: _Optional[_Union[Mismatch, _Mapping]] = ...) -> None: ...

class ResolveMismatchRequest(_message.Message):
    __slots__ = ("request_id", "mismatch_id", "action", "note", "resolved_by")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    mismatch_id: str
    action: ResolutionAction
    note: str
    resolved_by: str
    def __init__(self, request_id: _Optional[str] = ..., mismatch_id: _Optional[str] = ..., action: _Optional[_Union[ResolutionAction, str]] = ..., note: _Optional[str] = ..., resolved_by: _Optional[str] = ...) -> None: ...

class ResolveMismatchResponse(_message.Message):
    __slots__ = ("mismatch",)
    MISMATCH_FIELD_NUMBER: _ClassVar[int]
    mismatch: Mismatch
    def __init__(self, mismatch: _Optional[_Union[Mismatch, _Mapping]] = ...) -> None: ...
