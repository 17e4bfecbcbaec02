"""Idempotency keys as Stripe honours them: one execution per key, replays for the same request."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

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


class KeyedLocks:
    """One asyncio lock per key, dropped once nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
