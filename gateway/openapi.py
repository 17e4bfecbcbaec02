"""The OpenAPI 3.1 document, generated from the same descriptors as the routes: paths and
methods from the HTTP annotations, parameters and schemas from the message descriptors,
constraints from the protovalidate rules, descriptions from the .proto comments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from buf.validate import validate_pb2
from gateway.codec import FLOAT_TYPES, INTEGER_TYPES
from gateway.contract_rules import STRING_FORMATS, refuses_empty, rules_of
from gateway.openapi_links import links_of
from gateway.routes import IDEMPOTENCY_FIELD, IDEMPOTENCY_HEADER, MethodRoute
from gateway.scopes import SCOPES, is_audited, required_scope
from mesh.money import CURRENCY_EXPONENTS

Schema = dict[str, Any]

_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    "google.protobuf.DoubleValue": {"type": "number"},
}
_SIXTY_FOUR = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_ERROR = "Error"
ISO_CODE_PATTERN = "^[A-Z]{3}$"
# protovalidate's string formats and their JSON Schema names.


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _string_constraints(rules: validate_pb2.StringRules) -> Schema:
    out: Schema = {}
    if rules.HasField("len"):
        out["minLength"] = out["maxLength"] = rules.len
    if rules.HasField("min_len"):
        out["minLength"] = rules.min_len
    if rules.HasField("max_len"):
        out["maxLength"] = rules.max_len
    if rules.HasField("pattern"):
        out["pattern"] = rules.pattern
    if rules.HasField("const"):
        out["const"] = rules.const
    if getattr(rules, "in"):
        out["enum"] = list(getattr(rules, "in"))
    for rule, schema_format in STRING_FORMATS:
        if rules.HasField(rule) and getattr(rules, rule):
            out["format"] = schema_format
    return out


def _number_constraints(rules: Any) -> Schema:
    out: Schema = {}
    for proto_name, key in (("gte", "minimum"), ("lte", "maximum")):
        if rules.HasField(proto_name):
            out[key] = getattr(rules, proto_name)
    for proto_name, key in (("gt", "exclusiveMinimum"), ("lt", "exclusiveMaximum")):
        if rules.HasField(proto_name):
            out[key] = getattr(rules, proto_name)
    return out


def _scalar_constraints(rules: validate_pb2.FieldRules) -> Schema:
    kind = rules.WhichOneof("type")
    if kind == "string":
        return _string_constraints(rules.string)
    if kind in ("int32", "int64", "uint32", "uint64", "double", "float"):
        return _number_constraints(getattr(rules, kind))
    return {}


def _is_required(rules: validate_pb2.FieldRules | None) -> bool:
    """Required in JSON: leaving the field out (its zero value) breaks a rule."""
    if rules is None:
        return False
    if rules.required:
        return True
    if rules.ignore in (validate_pb2.IGNORE_IF_ZERO_VALUE, validate_pb2.IGNORE_ALWAYS):
        return False
    kind = rules.WhichOneof("type")
    if kind == "string":
        return refuses_empty(rules.string)
    if kind == "repeated":
        return rules.repeated.min_items > 0
    return False


class SchemaBuilder:
    """Component schemas for messages and enums, reached from the routes."""

    def __init__(self, comments: Mapping[str, str]) -> None:
        self.comments = comments
        self.schemas: dict[str, Schema] = {}

    def _describe(self, schema: Schema, full_name: str) -> Schema:
        text = self.comments.get(full_name)
        if text:
            schema["description"] = text
        return schema

    def enum(self, enum: EnumDescriptor) -> Schema:
        if enum.full_name not in self.schemas:
            schema: Schema = {"type": "string", "enum": [v.name for v in enum.values]}
            values = [
                f"{v.name}: {self.comments[f'{enum.full_name}.{v.name}']}"
                for v in enum.values
                if self.comments.get(f"{enum.full_name}.{v.name}")
            ]
            self._describe(schema, enum.full_name)
            if values:
                schema["description"] = "\n".join(
                    [schema.get("description", ""), *(f"- {v}" for v in values)]
                ).strip()
            self.schemas[enum.full_name] = schema
        return _ref(enum.full_name)

    def _single(self, fd: FieldDescriptor, rules: validate_pb2.FieldRules | None) -> Schema:
        if fd.message_type is not None:
            known = _WELL_KNOWN.get(fd.message_type.full_name)
            return dict(known) if known is not None else self.message(fd.message_type)
        if fd.enum_type is not None:
            return self.enum(fd.enum_type)
        if fd.type == FieldDescriptor.TYPE_BOOL:
            schema: Schema = {"type": "boolean"}
        elif fd.type in _SIXTY_FOUR:
            schema = {"type": "string", "format": "int64"}
        elif fd.type in INTEGER_TYPES:
            schema = {"type": "integer", "format": "int32"}
        elif fd.type in FLOAT_TYPES:
            schema = {"type": "number"}
        elif fd.type == FieldDescriptor.TYPE_BYTES:
            schema = {"type": "string", "contentEncoding": "base64"}
        else:
            schema = {"type": "string"}
        if rules is not None:
            schema.update(_scalar_constraints(rules))
            if fd.name == "currency" and schema.get("pattern") == ISO_CODE_PATTERN:
                # The services check the code against ISO 4217 (mesh.money), not only its shape.
                schema["enum"] = sorted(CURRENCY_EXPONENTS)
        return schema

    def field(self, fd: FieldDescriptor) -> Schema:
        rules = rules_of(fd)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value = fd.message_type.fields_by_name["value"]
            schema: Schema = {"type": "object", "additionalProperties": self._single(value, None)}
        elif fd.is_repeated:
            repeated = None
            if rules is not None and rules.WhichOneof("type") == "repeated":
                repeated = rules.repeated
            schema = {
                "type": "array",
                "items": self._single(fd, repeated.items if repeated is not None else None),
            }
            if repeated is not None and repeated.HasField("min_items"):
                schema["minItems"] = repeated.min_items
            if repeated is not None and repeated.HasField("max_items"):
                schema["maxItems"] = repeated.max_items
        else:
            schema = self._single(fd, rules)
        return self._describe(schema, fd.full_name)

    def message(
        self, message: Descriptor, *, exclude: Sequence[str] = (), name: str | None = None
    ) -> Schema:
        name = name or message.full_name
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursive messages end here
            properties = {}
            required = []
            for fd in message.fields:
                if fd.name in exclude:
                    continue
                properties[fd.name] = self.field(fd)
                if _is_required(rules_of(fd)):
                    required.append(fd.name)
            schema: Schema = {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
            }
            if required:
                schema["required"] = required
            self.schemas[name] = self._describe(schema, message.full_name)
        return _ref(name)


def _parameter(builder: SchemaBuilder, fd: FieldDescriptor, where: str, name: str) -> Schema:
    schema = builder.field(fd)
    description = schema.pop("description", None)
    param: Schema = {"name": name, "in": where, "schema": schema}
    if where == "path":
        param["required"] = True
    if description:
        param["description"] = description
    if fd.is_repeated and where == "query":
        param["explode"] = True
    return param


def _leaf(message: Descriptor, field_path: str) -> FieldDescriptor:
    fd = None
    for part in field_path.split("."):
        fd = message.fields_by_name[part]
        message = fd.message_type
    assert fd is not None
    return fd


_ERROR_RESPONSES = {
    "400": ("BadRequest", "The request breaks the contract; details name each field and rule."),
    "401": ("Unauthenticated", "No API key, or a malformed one."),
    "403": (
        "PermissionDenied",
        "The API key is unknown, wrong or revoked (PERMISSION_DENIED), or lacks the scope the "
        "operation needs (SCOPE_MISSING; ErrorInfo metadata `scope` names it).",
    ),
    "404": ("NotFound", "Not found."),
    "413": ("PayloadTooLarge", "The body is larger than 1 MiB."),
    "422": ("IdempotencyKeyReused", "The Idempotency-Key was used before with another request."),
    "429": (
        "TooManyRequests",
        "The API key's rate limit is spent (RATE_LIMITED), too many failed authentications came "
        "from this address (RATE_LIMITED), or the Idempotency-Key is in use "
        "(IDEMPOTENCY_KEY_IN_USE); retry after Retry-After seconds.",
    ),
    "503": (
        "Unavailable",
        "An upstream service is unavailable; retry later with the same request.",
    ),
    "504": ("Timeout", "An upstream service did not answer in time; retry later."),
    "default": ("Error", "Any other error, in the AIP-193 shape."),
}
_BODY_ONLY = {"413", "422"}


# Sent with every answer to an authenticated caller (the key's rate limit), and Retry-After with
# every 429.
_RATE_LIMIT_HEADERS: dict[str, Schema] = {
    "RateLimit-Limit": {
        "description": "Requests the API key may send per window.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until at least one more request is allowed.",
        "schema": {"type": "integer", "minimum": 1},
    },
}
_RETRY_AFTER: Schema = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def _rate_limit_header_refs() -> dict[str, Schema]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_LIMIT_HEADERS}


def _error_response_components() -> dict[str, Schema]:
    components: dict[str, Schema] = {
        name: {"description": text, "content": {"application/json": {"schema": _ref(_ERROR)}}}
        for name, text in _ERROR_RESPONSES.values()
    }
    components["TooManyRequests"]["headers"] = {
        "Retry-After": {"$ref": "#/components/headers/Retry-After"},
        **_rate_limit_header_refs(),
    }
    return components


def _error_responses(with_body: bool) -> dict[str, Schema]:
    return {
        status: {"$ref": f"#/components/responses/{name}"}
        for status, (name, _) in _ERROR_RESPONSES.items()
        if with_body or status not in _BODY_ONLY
    }


def _error_schema() -> Schema:
    return {
        "type": "object",
        "description": "An AIP-193 error.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "status", "message", "details"],
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status code."},
                    "status": {"type": "string", "description": "The canonical gRPC code name."},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "description": (
                            "google.rpc.ErrorInfo (reason, domain, metadata) and, for invalid "
                            "input, google.rpc.BadRequest (fieldViolations: field, description, "
                            "reason)."
                        ),
                        "items": {
                            "type": "object",
                            "properties": {"@type": {"type": "string"}},
                            "required": ["@type"],
                        },
                    },
                },
            }
        },
    }


def _operation(
    builder: SchemaBuilder, route: MethodRoute, routes: Sequence[MethodRoute] = ()
) -> Schema:
    method = route.method
    request = method.input_type
    description = builder.comments.get(method.full_name, "")
    scope = required_scope(method)
    operation: Schema = {
        "operationId": f"{route.service.name}_{method.name}",
        "tags": [route.service.name],
        "summary": description.split(". ")[0].rstrip(".") if description else method.name,
        # OpenAPI 3.1 allows role names in the requirement of a non-OAuth scheme: the scope.
        "security": [{"bearerAuth": [scope]}],
        "x-required-scope": scope,
        "parameters": [],
    }
    if is_audited(method):
        operation["x-audited"] = True
    if description:
        operation["description"] = description
    for field_path in route.path_params.values():
        fd = _leaf(request, field_path)
        operation["parameters"].append(_parameter(builder, fd, "path", field_path))
    for field_name in route.query_fields():
        fd = request.fields_by_name[field_name]
        operation["parameters"].append(_parameter(builder, fd, "query", field_name))
    if route.needs_idempotency_key:
        operation["parameters"].append({"$ref": "#/components/parameters/IdempotencyKey"})
    if route.body:
        bound = {p.split(".", 1)[0] for p in route.path_params.values()} | {IDEMPOTENCY_FIELD}
        if route.body == "*":
            name = f"{request.full_name}.Body" if bound & set(request.fields_by_name) else None
            schema = builder.message(request, exclude=sorted(bound), name=name)
        else:
            schema = builder.field(request.fields_by_name[route.body])
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    response_schema = (
        builder.field(method.output_type.fields_by_name[route.response_body])
        if route.response_body
        else builder.message(method.output_type)
    )
    responses = {
        str(route.success_status): {
            "description": "Accepted; execution is asynchronous."
            if route.success_status == 202
            else "OK",
            "headers": _rate_limit_header_refs(),
            "content": {"application/json": {"schema": response_schema}},
        }
    }
    links = links_of(route, routes)
    if links:
        responses[str(route.success_status)]["links"] = links
    responses.update(_error_responses(with_body=bool(route.body)))
    operation["responses"] = responses
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def build_openapi(
    routes: Sequence[MethodRoute], comments: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`."""
    builder = SchemaBuilder(comments or {})
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.http_method.lower()] = _operation(
            builder, route, routes
        )
    builder.schemas[_ERROR] = _error_schema()
    tags = []
    for service in dict.fromkeys(r.service for r in routes):
        tag: Schema = {"name": service.name}
        if builder.comments.get(service.full_name):
            tag["description"] = builder.comments[service.full_name]
        tags.append(tag)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paymesh API",
            "version": "v1",
            "description": (
                "The public REST API of paymesh, derived from the google.api.http annotations "
                "of its gRPC contracts. Money is a decimal string in every field; errors follow "
                "AIP-193."
            ),
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "responses": _error_response_components(),
            "parameters": {
                "IdempotencyKey": {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": True,
                    "description": (
                        "A UUID naming this request (AIP-155). A replay with the same key returns "
                        "the stored answer; the same key with another body is refused (422); "
                        "while the first is in progress, 429 with Retry-After."
                    ),
                    "schema": {"type": "string", "format": "uuid"},
                }
            },
            "headers": {**_RATE_LIMIT_HEADERS, "Retry-After": _RETRY_AFTER},
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "pmk_<key_id>_<secret>",
                    "description": (
                        "An API key issued by the operator (`paymesh api-key create`), holding "
                        f"scopes among: {', '.join(SCOPES)}. Each operation names the one it "
                        "needs in its security requirement and in `x-required-scope`; a key "
                        "without it gets 403 SCOPE_MISSING. Operations marked `x-audited` are "
                        "operator actions, written to the audit log with the key's id."
                    ),
                }
            },
        },
        "security": [{"bearerAuth": []}],
    }
