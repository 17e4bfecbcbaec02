"""Stripe's list endpoints: `limit`, `starting_after`, `ending_before`, newest first."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import form
from psp_sandbox.auth import authenticate
from psp_sandbox.errors import invalid_parameter, invalid_request, unknown_parameter
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import encode, json_response
from psp_sandbox.store import SandboxStore, StripeObject

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
CURSORS = ("limit", "starting_after", "ending_before")


def limit_param(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise invalid_parameter(
            "limit",
            f"This value must be an integer between 1 and {MAX_LIMIT}.",
            code="parameter_invalid_integer",
        )
    return int(text)


def query_params(request: Request, api_key_prefix: str, filters: Collection[str]) -> form.Params:
    """The authenticated request's query parameters; a 400 for any it does not know."""
    authenticate(request.headers.get("authorization"), api_key_prefix)
    params = form.decode(request.query_params.multi_items())
    for name in params:
        if name not in CURSORS and name not in filters:
            raise unknown_parameter(name)
    return params


def list_response(
    store: SandboxStore,
    object_type: str,
    url: str,
    params: form.Params,
    where: Callable[[StripeObject], bool] | None = None,
) -> Response:
    limit = limit_param(form.as_string(params, "limit"))
    cursors: dict[str, str | None] = {}
    for name in ("starting_after", "ending_before"):
        cursor = form.as_string(params, name)
        if cursor is not None and store.get(cursor, object_type) is None:
            raise invalid_request(
                f"No such {object_type}: '{cursor}'", param=name, code="resource_missing"
            )
        cursors[name] = cursor
    page = store.page(
        limit, cursors["starting_after"], cursors["ending_before"], object_type, where
    )
    body: dict[str, Any] = {
        "object": "list",
        "data": page.data,
        "has_more": page.has_more,
        "url": url,
    }
    return json_response(200, encode(body), new_id("req_"))


def retrieve_response(store: SandboxStore, object_type: str, obj_id: str) -> Response:
    obj = store.get(obj_id, object_type)
    if obj is None:
        raise invalid_request(
            f"No such {object_type}: '{obj_id}'", param="id", code="resource_missing", status=404
        )
    return json_response(200, encode(obj), new_id("req_"))
