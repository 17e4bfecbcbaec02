"""Who may do what: the API-key scopes, read from the contracts.

Each RPC declares the scope a caller needs (`paymesh.common.v1.required_scope`) and whether a
call of it is an operator action to audit (`paymesh.common.v1.audited`). The gateway refuses to
start when a public route has no scope, or one that no key could hold; at run time the check is
one set lookup.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.descriptor import MethodDescriptor

from gateway.routes import MethodRoute, RouteError
from mesh.errors import Code, ServiceError
from paymesh.common.v1 import access_pb2

# Every scope a key may hold. A key holds any number of them; a key with none may do nothing.
SCOPES: tuple[str, ...] = (
    "payments:write",
    "payments:read",
    "refunds:write",
    "payouts:write",
    "payouts:read",
    "ledger:read",
    "recon",
    "ops",
)
# Sees what is not shown to merchants: /readyz detail, a checkout's risk decision.
OPS = "ops"


class UnknownScopeError(ValueError):
    """A scope that is not one of SCOPES."""


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """`scopes` without duplicates, in SCOPES order; UnknownScopeError names any unknown one."""
    wanted = list(scopes)
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise UnknownScopeError(
            f"unknown scope {', '.join(unknown)}; a key may hold: {', '.join(SCOPES)}"
        )
    return [s for s in SCOPES if s in wanted]


def required_scope(method: MethodDescriptor) -> str:
    """The scope the contract asks for `method`, "" when it declares none."""
    options = method.GetOptions()
    if not options.HasExtension(access_pb2.required_scope):
        return ""
    return str(options.Extensions[access_pb2.required_scope])


def is_audited(method: MethodDescriptor) -> bool:
    """Whether a call of `method` is an operator action, written to the audit log."""
    return bool(method.GetOptions().Extensions[access_pb2.audited])


def check_route_scopes(routes: Iterable[MethodRoute]) -> None:
    """Refuse (RouteError) a public route whose RPC declares no scope, or an unknown one: such a
    route would be open to every key, or to none."""
    for route in routes:
        scope = required_scope(route.method)
        if not scope:
            raise RouteError(
                f"{route.method.full_name} ({route.http_method} {route.template}) declares no "
                'API-key scope: add `option (paymesh.common.v1.required_scope) = "...";` '
                "to it in its .proto and run `make gen`"
            )
        if scope not in SCOPES:
            raise RouteError(
                f"{route.method.full_name} declares the unknown scope {scope!r}; "
                f"the scopes are: {', '.join(SCOPES)}"
            )


def scope_missing(scope: str) -> ServiceError:
    return ServiceError(
        Code.PERMISSION_DENIED,
        "SCOPE_MISSING",
        f"the API key lacks the scope {scope!r}, which this call needs",
        metadata={"scope": scope},
    )
