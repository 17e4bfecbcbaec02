"""Stripe's form encoding (`a=1&metadata[k]=v&list[0]=x`), decoded one nesting level deep."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl

from psp_sandbox.errors import invalid_request, unknown_parameter

Params = dict[str, str | dict[str, str]]

_NESTED = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


def parse_body(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form-encoded request body, in order."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_request("The request body is not valid UTF-8.") from None
    return parse_qsl(text, keep_blank_values=True)


def decode(pairs: Iterable[tuple[str, str]]) -> Params:
    """`metadata[k]=v` becomes `{"metadata": {"k": "v"}}`; `list[]=x` gets the next index.

    Whether a nested value is a hash or a list is the caller's business (it knows the schema):
    list items come back keyed by their index as a string.
    """
    params: Params = {}
    for name, value in pairs:
        match = _NESTED.match(name)
        if match is None:
            if "[" in name or "]" in name:
                raise unknown_parameter(name)
            if isinstance(params.get(name), dict):
                raise invalid_request(f"Invalid hash: {name}", param=name)
            params[name] = value
            continue
        outer, inner = match.groups()
        nested = params.setdefault(outer, {})
        if not isinstance(nested, dict):
            raise invalid_request(f"Invalid string: {outer} cannot also be a hash", param=outer)
        nested[inner if inner else str(len(nested))] = value
    return params


def as_list(params: Params, name: str) -> list[str] | None:
    """A list parameter sent as `name[0]=a&name[1]=b`, in index order; None when absent."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(key.isdigit() for key in value):
        raise invalid_request(f"Invalid array: {name}", param=name)
    return [value[key] for key in sorted(value, key=int)]


def as_hash(params: Params, name: str) -> dict[str, str]:
    """A hash parameter sent as `name[key]=value`; empty when absent."""
    value = params.get(name, {})
    if not isinstance(value, dict):
        raise invalid_request(f"Invalid hash: {name}", param=name)
    return value


def as_string(params: Params, name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, dict):
        raise invalid_request(f"Invalid string: {name}", param=name)
    return value


_SEGMENTS = re.compile(r"\[([^\[\]]*)\]")

Nested = dict[str, "str | Nested"]


def decode_deep(pairs: Iterable[tuple[str, str]]) -> Nested:
    """Any depth: `line_items[0][price_data][currency]=usd` becomes nested dicts (list items
    keyed by their index as a string, as in `decode`)."""
    params: Nested = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        keys = [head] + (_SEGMENTS.findall("[" + rest) if rest else [])
        if not head or (rest and "[" + rest != "".join(f"[{k}]" for k in keys[1:])):
            raise unknown_parameter(name)
        node = params
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise invalid_request(f"Invalid hash: {'['.join(keys[: depth + 1])}", param=name)
            node = child
        last = keys[-1] if keys[-1] else str(len(node))
        if isinstance(node.get(last), dict):
            raise invalid_request(f"Invalid string: {name}", param=name)
        node[last] = value
    return params
