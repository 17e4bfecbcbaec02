"""Idempotency keys as Stripe honours them: one execution per key, replays for the same request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from psp_sandbox.errors import IDEMPOTENCY_ERROR, ApiError, invalid_request

MAX_KEY_LENGTH = 255


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise invalid_request(
            f"Idempotency keys must be 1 to {MAX_KEY_LENGTH} characters long.",
            param="idempotency_key",
        )
    return key


def fingerprint(method: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    """The same endpoint with the same parameters, in any order, has the same fingerprint."""
    canonical = json.dumps([method, path, sorted(pairs)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def mismatch(key: str) -> ApiError:
    return ApiError(
        400,
        IDEMPOTENCY_ERROR,
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than '{key}' if you meant to execute a different "
        "request.",
    )


def in_use(key: str) -> ApiError:
    # Stripe answers 409 while the first request with a key is still running; the SDK raises
    # its generic APIError, which clients treat as "retry later with the same key".
    return ApiError(
        409,
        IDEMPOTENCY_ERROR,
        "There is currently another in-progress request using this idempotency key (that "
        "probably means you submitted twice, and the other request is still going through): "
        f"'{key}'. Please try again later.",
        code="idempotency_key_in_use",
    )


class InFlightKeys:
    """Keys whose first request is still running; a second request with one gets a 409."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        if key in self._keys:
            raise in_use(key)
        self._keys.add(key)
        try:
            yield
        finally:
            self._keys.discard(key)
