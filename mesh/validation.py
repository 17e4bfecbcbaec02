"""The one generic validator every entry point runs (gateway and gRPC servers alike).

1. The rules written in the .proto (protovalidate).
2. Money rules the .proto cannot express: in any message with string fields `amount` and
   `currency`, the currency must be a known ISO 4217 code and the amount positive with no more
   decimals than the currency has.
3. No card numbers: no string anywhere in the request may look like one.
4. Only text PostgreSQL can store: no NUL character, no lone surrogate, in any string.

Every rule is checked in time bounded by the contract's limits, not by what the caller sent: a
repeated field longer than its `max_items` is refused before anything looks at its items (so a
huge list never reaches the CEL rules, whose evaluation has an iteration budget and is slow).
"""

from __future__ import annotations

import functools
import re

import protovalidate
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from buf.validate import validate_pb2
from mesh.cards import contains_card_number
from mesh.errors import FieldViolation, ServiceError, invalid_argument
from mesh.money import InvalidMoney, parse_amount

CARD_RULE = "card_number.forbidden"
CARD_MESSAGE = "looks like a card number; send a PSP payment-method token instead"
TEXT_RULE = "string.storable"
TEXT_MESSAGE = "contains a NUL character or a lone surrogate, which is not text that can be stored"
# NUL: PostgreSQL's text types refuse it. Surrogates (U+D800-U+DFFF) alone are no Unicode text:
# they cannot be encoded as UTF-8 at all (JSON can carry them as "\ud800" escapes).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> bool:
    """Whether `text` can be stored in a PostgreSQL text column (UTF-8) as it is."""
    return _UNSTORABLE.search(text) is None


def _path(violation: protovalidate.Violation) -> str:
    field = violation.proto.field
    parts: list[str] = []
    for element in field.elements if field else []:
        part = element.field_name
        sub = element.subscript
        if sub is not None:
            part += f"[{sub.value!r}]" if isinstance(sub.value, str) else f"[{sub.value}]"
        parts.append(part)
    return ".".join(parts)


def _field_of_rule(msg: Message, rule_id: str) -> str:
    """A message-level rule has no field path; its id, by convention `<field>.<what>`, names
    the field it is about when that is a field of the message (so the caller is told which)."""
    name = rule_id.split(".", 1)[0]
    return name if name in msg.DESCRIPTOR.fields_by_name else ""


def _walk(msg: Message, prefix: str = ""):  # type: ignore[no-untyped-def]
    """Yield (path, message) for `msg` and every message inside it."""
    yield prefix, msg
    for fd, value in msg.ListFields():
        if fd.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        name = f"{prefix}.{fd.name}" if prefix else fd.name
        if fd.message_type.GetOptions().map_entry:
            continue
        if fd.is_repeated:
            for i, item in enumerate(value):
                yield from _walk(item, f"{name}[{i}]")
        else:
            yield from _walk(value, name)


def _strings(msg: Message, prefix: str = ""):  # type: ignore[no-untyped-def]
    for path, m in _walk(msg, prefix):
        for fd, value in m.ListFields():
            if fd.type != FieldDescriptor.TYPE_STRING:
                continue
            name = f"{path}.{fd.name}" if path else fd.name
            values = value if fd.is_repeated else [value]
            for v in values:
                yield name, v


@functools.cache
def max_items(fd: FieldDescriptor) -> int | None:
    """The contract's `repeated.max_items` of a repeated field, if it has one."""
    options = fd.GetOptions()
    if not options.HasExtension(validate_pb2.field):
        return None
    rules = options.Extensions[validate_pb2.field]
    if rules.WhichOneof("type") != "repeated" or not rules.repeated.HasField("max_items"):
        return None
    return rules.repeated.max_items


def too_many_items(count: int, limit: int) -> str:
    return f"must contain no more than {limit} items (got {count})"


def oversized_violations(msg: Message, prefix: str = "") -> list[FieldViolation]:
    """Repeated fields longer than their `max_items`, looking inside a list only when it is
    within its limit: the work is bounded by the limits, not by what the caller sent."""
    found: list[FieldViolation] = []
    for fd, value in msg.ListFields():
        name = f"{prefix}.{fd.name}" if prefix else fd.name
        if fd.is_repeated:
            limit = max_items(fd)
            if limit is not None and len(value) > limit:
                found.append(
                    FieldViolation(name, "repeated.max_items", too_many_items(len(value), limit))
                )
                continue
        if fd.type != FieldDescriptor.TYPE_MESSAGE or fd.message_type.GetOptions().map_entry:
            continue
        if fd.is_repeated:
            for i, item in enumerate(value):
                found += oversized_violations(item, f"{name}[{i}]")
        else:
            found += oversized_violations(value, name)
    return found


def text_violations(msg: Message) -> list[FieldViolation]:
    return [
        FieldViolation(path, TEXT_RULE, TEXT_MESSAGE)
        for path, value in _strings(msg)
        if not storable_text(value)
    ]


def card_violations(msg: Message) -> list[FieldViolation]:
    return [
        FieldViolation(path, CARD_RULE, CARD_MESSAGE)
        for path, value in _strings(msg)
        if contains_card_number(value)
    ]


def _money_violations(msg: Message, already_bad: set[str]) -> list[FieldViolation]:
    found = []
    for path, m in _walk(msg):
        fields = m.DESCRIPTOR.fields_by_name
        if not ("amount" in fields and "currency" in fields):
            continue
        if fields["amount"].type != FieldDescriptor.TYPE_STRING:
            continue
        at = f"{path}." if path else ""
        amount_path, currency_path = f"{at}amount", f"{at}currency"
        if currency_path in already_bad:
            continue
        amount, currency = m.amount, m.currency
        if not amount:
            # Optional money left out (or an optional amount beside its currency, as in
            # "everything available"); required-ness is the .proto's business.
            continue
        try:
            parse_amount(amount, currency)
        except InvalidMoney as err:
            where = currency_path if err.rule.startswith("currency") else amount_path
            if where not in already_bad:
                found.append(FieldViolation(where, err.rule, str(err)))
    return found


def violations(msg: Message) -> list[FieldViolation]:
    """Every rule `msg` breaks; empty when it is valid."""
    oversized = oversized_violations(msg)
    if oversized:
        return oversized  # the rest would cost time in proportion to what the caller sent
    cards = card_violations(msg)
    if cards:
        # Reported alone: the other messages could echo the number back.
        return cards
    unstorable = text_violations(msg)
    if unstorable:
        # Reported alone: the contract's rules (patterns, emails) would only repeat it.
        return unstorable
    found = [
        FieldViolation(
            _path(v) or _field_of_rule(msg, v.proto.rule_id), v.proto.rule_id, v.proto.message
        )
        for v in protovalidate.collect_violations(msg)
    ]
    found += _money_violations(msg, {v.field for v in found})
    return found


def validate(msg: Message) -> None:
    """Raise an INVALID_ARGUMENT `ServiceError` naming every broken rule."""
    found = violations(msg)
    if found:
        reason = "CARD_NUMBER_REJECTED" if found[0].rule == CARD_RULE else "INVALID_ARGUMENT"
        raise invalid_argument(found, reason)


__all__ = [
    "ServiceError",
    "card_violations",
    "oversized_violations",
    "storable_text",
    "text_violations",
    "validate",
    "violations",
]
