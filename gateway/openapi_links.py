"""OpenAPI `links` between operations, derived from the route templates: an answer that holds
a field named like another route's path variables (a checkout's `checkout_id`, its first
order's `payment_order_id`) links to that route, so clients and stateful fuzzers can follow
POST /v1/payments to GET /v1/payments/{payment_order_id} without being told by hand."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from gateway.routes import MethodRoute

Schema = dict[str, Any]


def string_pointers(message: Descriptor) -> dict[str, str]:
    """Field name -> JSON pointer of the shallowest string field of that name in `message`'s
    JSON (a repeated message is entered through its first element: `/payment_orders/0`)."""
    found: dict[str, str] = {}
    queue: deque[tuple[Descriptor, str, int]] = deque([(message, "", 0)])
    seen: set[str] = set()
    while queue:
        descriptor, prefix, depth = queue.popleft()
        for fd in descriptor.fields:
            pointer = f"{prefix}/{fd.name}"
            if fd.type == FieldDescriptor.TYPE_STRING and not fd.is_repeated:
                found.setdefault(fd.name, pointer)
            elif fd.message_type is not None and not fd.message_type.GetOptions().map_entry:
                name = fd.message_type.full_name
                if name.startswith("google.protobuf.") or name in seen or depth > 3:
                    continue
                seen.add(name)
                queue.append(
                    (fd.message_type, f"{pointer}/0" if fd.is_repeated else pointer, depth + 1)
                )
    return found


def _operation_id(route: MethodRoute) -> str:
    return f"{route.service.name}_{route.method.name}"


def links_of(route: MethodRoute, routes: Sequence[MethodRoute]) -> Schema:
    """The links of `route`'s success answer: one per GET route (other than itself) whose every
    path variable is a string field of that answer."""
    answer = route.method.output_type
    if route.response_body:
        field = answer.fields_by_name[route.response_body]
        if field.message_type is None:
            return {}
        answer = field.message_type
    pointers = string_pointers(answer)
    links: Schema = {}
    for target in routes:
        if target is route or target.http_method != "GET" or not target.path_params:
            continue
        variables = list(target.path_params.values())
        if not all(v in pointers for v in variables):
            continue
        links[target.method.name] = {
            "operationId": _operation_id(target),
            "parameters": {v: f"$response.body#{pointers[v]}" for v in variables},
        }
    return links
