"""Reading the contract's protovalidate rules off a field, for the OpenAPI document
(gateway.openapi) and the query decoder (gateway.codec) alike, so both say the same."""

from __future__ import annotations

import re

from google.protobuf.descriptor import FieldDescriptor

from buf.validate import validate_pb2

# protovalidate's string well-known formats and the JSON Schema `format` each stands for.
STRING_FORMATS = (("uuid", "uuid"), ("email", "email"), ("uri", "uri"), ("hostname", "hostname"))


def rules_of(fd: FieldDescriptor) -> validate_pb2.FieldRules | None:
    options = fd.GetOptions()
    if not options.HasExtension(validate_pb2.field):
        return None
    return options.Extensions[validate_pb2.field]


def refuses_empty(rules: validate_pb2.StringRules) -> bool:
    """Whether the contract refuses "" (what an omitted string field reads as in proto3)."""
    if rules.min_len > 0 or rules.len > 0 or (rules.HasField("const") and rules.const):
        return True
    if rules.HasField("pattern"):
        try:
            if re.fullmatch(rules.pattern, "") is None:
                return True
        except re.error:  # RE2 syntax Python lacks: say nothing rather than something wrong
            pass
    return any(rules.HasField(rule) and getattr(rules, rule) for rule, _ in STRING_FORMATS)


def empty_is_a_mistake(fd: FieldDescriptor) -> bool:
    """A string field whose value, when given, must match rules "" breaks (a pattern, a
    length, a format), even if leaving it out is allowed (IGNORE_IF_ZERO_VALUE): `?currency=`
    is a client's mistake, not "every currency"."""
    if fd.type != FieldDescriptor.TYPE_STRING:
        return False
    rules = rules_of(fd)
    return (
        rules is not None and rules.WhichOneof("type") == "string" and refuses_empty(rules.string)
    )
