"""Bearer API keys: `Authorization: Bearer pmk_<key_id>_<secret>`.

A missing or malformed header is 401 (with `WWW-Authenticate: Bearer`); a well-formed key that
is unknown, wrong or revoked is 403. Which of the three it was is never said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from mesh.errors import Code, ServiceError

KEY_PREFIX = "pmk_"
_KEY = re.compile(r"^pmk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")


@dataclass(frozen=True)
class ApiKey:
    """A verified caller."""

    key_id: str
    name: str
    scopes: frozenset[str]  # what it may do (gateway.scopes.SCOPES)
    rate_limit: str | None = None  # its own rate ("100/second"); None: the gateway's default


class ApiKeyVerifier(Protocol):
    async def verify(self, key_id: str, secret: str) -> ApiKey | None:
        """The key when `secret` is its secret and it is not revoked; None otherwise."""
        ...


def unauthenticated(message: str) -> ServiceError:
    return ServiceError(Code.UNAUTHENTICATED, "UNAUTHENTICATED", message)


def permission_denied() -> ServiceError:
    return ServiceError(Code.PERMISSION_DENIED, "PERMISSION_DENIED", "the API key is not valid")


def split_key(key: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, or None."""
    match = _KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def parse_authorization(header: str | None) -> tuple[str, str]:
    """(key_id, secret) from an Authorization header, or UNAUTHENTICATED."""
    if not header:
        raise unauthenticated("an API key is required: Authorization: Bearer pmk_...")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise unauthenticated("the Authorization header must be: Bearer <API key>")
    parts = split_key(credentials.strip())
    if parts is None:
        raise unauthenticated("the API key is malformed")
    return parts


async def authenticate(header: str | None, verifier: ApiKeyVerifier) -> ApiKey:
    key_id, secret = parse_authorization(header)
    key = await verifier.verify(key_id, secret)
    if key is None:
        raise permission_denied()
    return key
