"""JSON <-> protobuf, strictly: the contract's JSON mapping and nothing looser.

Requests: unknown fields are refused, a JSON number where the contract has a string (an amount
as 10.5) is refused, duplicate keys are refused; each problem is a field violation naming the
field. Responses: proto field names (snake_case) and every field without presence printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from gateway.contract_rules import empty_is_a_mistake
from mesh.cards import contains_card_number, redact_card_numbers
from mesh.errors import FieldViolation, ServiceError, invalid_argument
from mesh.validation import TEXT_MESSAGE, TEXT_RULE, max_items, storable_text, too_many_items

INTEGER_TYPES = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}
FLOAT_TYPES = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}
_STRING_LIKE = {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES}


# --- decoding -------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def decode_json(raw: bytes) -> Any:
    """The parsed body, or INVALID_ARGUMENT (field `body`, rule `json.syntax`). The error
    never quotes the body."""
    try:
        return json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_argument(
            [FieldViolation("body", "json.syntax", "the body is not a valid JSON document")]
        ) from None


def _json_path(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def card_number_paths(document: Any) -> list[str]:
    """Where a parsed JSON document holds a card-like number: in a string, a number, or a key.
    A key that is itself card-like is redacted in the paths. Iterative, so no nesting depth
    can break it."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                where = _json_path(path, key)
                if contains_card_number(key):
                    found.append(where)
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((_json_path(path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            text = value if isinstance(value, str) else json.dumps(value)
            if contains_card_number(text):
                found.append(path or "body")
    return sorted({redact_card_numbers(path) for path in found})


# --- type checks against the contract -------------------------------------------------------


def _type_name(fd: FieldDescriptor) -> str:
    if fd.type in _STRING_LIKE:
        return "string"
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return "boolean"
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return "enum name"
    if fd.type in INTEGER_TYPES:
        return "integer"
    if fd.type in FLOAT_TYPES:
        return "number"
    return "object"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_violation(fd: FieldDescriptor, value: Any, where: str) -> FieldViolation | None:
    if fd.type in _STRING_LIKE:
        if isinstance(value, str):
            # NUL and lone surrogates ("\u0000", "\ud800" in JSON) are refused here, naming
            # the field, before protobuf (which would name only the body) or PostgreSQL sees them.
            return None if storable_text(value) else FieldViolation(where, TEXT_RULE, TEXT_MESSAGE)
        hint = (
            ' (amounts are decimal strings such as "10.50", never JSON numbers)'
            if _is_number(value)
            else ""
        )
        return FieldViolation(where, "json.type", f"must be a JSON string{hint}")
    if fd.type == FieldDescriptor.TYPE_BOOL:
        ok = isinstance(value, bool)
    elif fd.type == FieldDescriptor.TYPE_ENUM:
        if isinstance(value, str):
            if fd.enum_type.values_by_name.get(value) is None:
                return FieldViolation(
                    where,
                    "json.enum",
                    f"must be one of {', '.join(v.name for v in fd.enum_type.values)}",
                )
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif fd.type in INTEGER_TYPES:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    elif fd.type in FLOAT_TYPES:
        ok = _is_number(value) or isinstance(value, str)
    else:
        ok = True
    return None if ok else FieldViolation(where, "json.type", f"must be a JSON {_type_name(fd)}")


def _is_well_known(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.full_name.startswith("google.protobuf.")


def _value_violations(fd: FieldDescriptor, value: Any, where: str) -> list[FieldViolation]:
    if fd.message_type is None:
        found = _scalar_violation(fd, value, where)
        return [found] if found else []
    if _is_well_known(fd):
        return []  # Timestamp, Duration, wrappers...: their JSON forms are json_format's job
    return json_violations(value, fd.message_type, where)


def _fields_by_json_key(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    by_key: dict[str, FieldDescriptor] = {}
    for fd in descriptor.fields:
        by_key[fd.name] = fd
        by_key[fd.json_name] = fd
    return by_key


def json_violations(
    value: Any, descriptor: Descriptor, path: str = "", exclude: Mapping[str, str] | None = None
) -> list[FieldViolation]:
    """Every way `value` (parsed JSON) does not fit `descriptor`'s JSON mapping. Field paths use
    the proto field names, like the generic validator's: `payment_orders[0].amount`."""
    if not isinstance(value, dict):
        return [FieldViolation(path or "body", "json.type", "must be a JSON object")]
    by_key = _fields_by_json_key(descriptor)
    found: list[FieldViolation] = []
    seen: set[str] = set()
    for key, item in value.items():
        fd = by_key.get(key)
        if fd is None or (not path and exclude and fd.name in exclude):
            why = exclude.get(fd.name, "") if fd is not None and exclude else ""
            where = _json_path(path, key)
            found.append(
                FieldViolation(where, "json.unknown_field", why or "is not a field of the request")
            )
            continue
        where = _json_path(path, fd.name)
        if fd.name in seen:
            found.append(FieldViolation(where, "json.duplicate_field", "is given twice"))
            continue
        seen.add(fd.name)
        if item is None:
            # Proto3's JSON mapping would read null as the default, but the contract (the
            # OpenAPI document) types every field without null: a client leaves a field out.
            found.append(FieldViolation(where, "json.null", "is null: leave the field out"))
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if not isinstance(item, dict):
                found.append(FieldViolation(where, "json.type", "must be a JSON object"))
                continue
            value_fd = fd.message_type.fields_by_name["value"]
            for k, v in item.items():
                found += _value_violations(value_fd, v, f"{where}[{k!r}]")
        elif fd.is_repeated:
            if not isinstance(item, list):
                found.append(FieldViolation(where, "json.type", "must be a JSON array"))
                continue
            limit = max_items(fd)
            if limit is not None and len(item) > limit:
                # Not one element is looked at: the work stays bounded by the contract's limit.
                found.append(
                    FieldViolation(where, "repeated.max_items", too_many_items(len(item), limit))
                )
                continue
            for i, element in enumerate(item):
                found += _value_violations(fd, element, f"{where}[{i}]")
        else:
            found += _value_violations(fd, item, where)
    return found


def _parse_error(where: str, rule: str, err: json_format.ParseError) -> ServiceError:
    # json_format's messages can quote values; card numbers are refused before this point,
    # and the message is redacted anyway.
    return invalid_argument([FieldViolation(where, rule, redact_card_numbers(str(err)))])


def message_from_json(
    document: Any, message_type: type[Message], exclude: Mapping[str, str] | None = None
) -> Message:
    """A request message from a parsed JSON body, or INVALID_ARGUMENT naming each bad field.
    Top-level fields in `exclude` (set from elsewhere, such as the idempotency header; the value
    says so) are refused like unknown fields."""
    found = json_violations(document, message_type.DESCRIPTOR, exclude=exclude)
    if found:
        raise invalid_argument(found)
    message = message_type()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=False)
    except json_format.ParseError as err:
        raise _parse_error("body", "json.invalid", err) from None
    return message


# --- path and query parameters --------------------------------------------------------------


def _nested(field_path: str, value: Any) -> dict[str, Any]:
    head, _, rest = field_path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def _param_value(fd: FieldDescriptor, raw: str) -> Any:
    if fd.type == FieldDescriptor.TYPE_BOOL:
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        return raw  # json_format refuses it with a clear message
    return raw


def _leaf(descriptor: Descriptor, field_path: str) -> FieldDescriptor:
    fd = None
    for part in field_path.split("."):
        fd = descriptor.fields_by_name[part]
        descriptor = fd.message_type
    assert fd is not None
    return fd


def set_path_params(message: Message, params: Mapping[str, str], rule: str = "path.type") -> None:
    """Set request fields (dotted paths) from path variables, converted by type."""
    found = []
    for field_path, raw in params.items():
        fd = _leaf(message.DESCRIPTOR, field_path)
        part = type(message)()
        try:
            json_format.ParseDict(_nested(field_path, _param_value(fd, raw)), part)
        except json_format.ParseError:
            found.append(FieldViolation(field_path, rule, f"must be a {_type_name(fd)}"))
            continue
        message.MergeFrom(part)
    if found:
        raise invalid_argument(found)


def set_query_params(
    message: Message, query: Sequence[tuple[str, str]], allowed: Sequence[str]
) -> None:
    """Set top-level scalar fields from query parameters (proto or JSON names). Unknown names
    and a singular field given twice are refused."""
    by_key = {
        k: fd for k, fd in _fields_by_json_key(message.DESCRIPTOR).items() if fd.name in allowed
    }
    values: dict[str, list[str]] = {}
    found = []
    for key, raw in query:
        fd = by_key.get(key)
        if fd is None:
            found.append(FieldViolation(key, "query.unknown_parameter", "is not a parameter here"))
            continue
        values.setdefault(fd.name, []).append(raw)
    for name, raws in values.items():
        fd = message.DESCRIPTOR.fields_by_name[name]
        if not fd.is_repeated and len(raws) > 1:
            found.append(FieldViolation(name, "query.repeated", "may be given only once"))
            continue
        if "" in raws and empty_is_a_mistake(fd):
            found.append(
                FieldViolation(name, "query.empty", "is empty: give a value or leave it out")
            )
            continue
        converted = [_param_value(fd, r) for r in raws]
        part = type(message)()
        try:
            json_format.ParseDict({name: converted if fd.is_repeated else converted[0]}, part)
        except json_format.ParseError:
            found.append(FieldViolation(name, "query.type", f"must be a {_type_name(fd)}"))
            continue
        message.MergeFrom(part)
    if found:
        raise invalid_argument(found)


# --- responses ------------------------------------------------------------------------------


def _in_field_order(descriptor: Descriptor, document: dict[str, Any]) -> dict[str, Any]:
    """`document` with its keys in the order the .proto declares them (MessageToDict puts the
    defaulted fields last), so a person reading the JSON finds it laid out like the contract."""
    ordered: dict[str, Any] = {}
    for fd in descriptor.fields:
        if fd.name not in document:
            continue
        value = document[fd.name]
        if fd.message_type is not None and not _is_well_known(fd):
            if fd.is_repeated and isinstance(value, list):
                value = [_in_field_order(fd.message_type, v) for v in value]
            elif isinstance(value, dict) and not fd.message_type.GetOptions().map_entry:
                value = _in_field_order(fd.message_type, value)
        ordered[fd.name] = value
    return ordered


def message_to_json(message: Message) -> dict[str, Any]:
    """The response as JSON: proto field names, fields without presence always printed."""
    document = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return _in_field_order(message.DESCRIPTOR, document)
