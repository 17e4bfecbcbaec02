"""API keys in table `gateway.api_keys`: issued once in plaintext, stored as the SHA-256 of the
secret, verified with a constant-time comparison, cached in memory for a short time. Issuing
and revoking a key is written to the audit log in the same transaction."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit import KEY_CREATE, KEY_REVOKE, AuditEntry, append, cli_actor
from gateway.auth import KEY_PREFIX, ApiKey
from gateway.rate_limits import parse_rate
from gateway.scopes import checked_scopes
from gateway.tables import SCHEMA, api_keys, metadata
from mesh.db import make_engine
from mesh.errors import Code, ServiceError

__all__ = ["SCHEMA", "DbApiKeyVerifier", "api_keys", "issue_api_key", "metadata"]

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_S = 5.0

_DUMMY_HASH = hashlib.sha256(b"").hexdigest()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str, str]:
    """(key_id, secret, plaintext key)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{KEY_PREFIX}{key_id}_{secret}"


async def issue_api_key(
    database_url: str,
    name: str,
    scopes: list[str],
    *,
    rate_limit: str | None = None,
    actor: str | None = None,
) -> str:
    """Create a key holding `scopes` (gateway.scopes.SCOPES only: UnknownScopeError otherwise)
    and, when given, its own `rate_limit` ("100/second"; RateError when it is not a rate), and
    return its plaintext, the only time it is ever seen. `actor` (default: the CLI's OS user)
    is written to the audit log with the new key's id."""
    granted = checked_scopes(scopes)
    if rate_limit is not None:
        parse_rate(rate_limit)
    key_id, secret, plaintext = new_key()
    entry = AuditEntry(actor or cli_actor(), KEY_CREATE, f"api_keys/{key_id}", None, 201)
    engine = make_engine(database_url, SCHEMA, pool_size=1, application_name="gateway-keys")
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    key_id=key_id,
                    name=name,
                    secret_hash=hash_secret(secret),
                    scopes=granted,
                    rate_limit=rate_limit,
                )
            )
            await append(conn, entry)
    finally:
        await engine.dispose()
    return plaintext


async def revoke_api_key(database_url: str, key_id: str, *, actor: str | None = None) -> bool:
    """Revoke a key (by its id, the part after `pmk_`); False when there is no such live key.
    The attempt is written to the audit log either way (outcome 200 or 404)."""
    engine = make_engine(database_url, SCHEMA, pool_size=1, application_name="gateway-keys")
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
            revoked = bool(result.rowcount)
            outcome = 200 if revoked else 404
            resource = f"api_keys/{key_id}"
            await append(
                conn, AuditEntry(actor or cli_actor(), KEY_REVOKE, resource, None, outcome)
            )
            return revoked
    finally:
        await engine.dispose()


async def live_key_scopes(database_url: str, key_id: str) -> frozenset[str] | None:
    """The scopes of the live key `key_id`; None when there is no such key or it is revoked."""
    engine = make_engine(database_url, SCHEMA, pool_size=1, application_name="gateway-keys")
    query = select(api_keys.c.scopes).where(
        api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)
    )
    try:
        async with engine.connect() as conn:
            scopes = (await conn.execute(query)).scalar_one_or_none()
    finally:
        await engine.dispose()
    return frozenset(scopes) if scopes is not None else None


@dataclass(frozen=True)
class _Record:
    key: ApiKey
    secret_hash: str
    revoked: bool


class DbApiKeyVerifier:
    """Verifies keys against `api_keys`. Rows (and misses) are cached for `ttl_s`, so a request
    does not hit the database every time; a revocation takes effect within `ttl_s`. When the
    database cannot answer, UNAVAILABLE (503), never a 500."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl_s: float = 30.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._cache: dict[str, tuple[float, _Record | None]] = {}

    async def verify(self, key_id: str, secret: str) -> ApiKey | None:
        record = await self._record(key_id)
        expected = record.secret_hash if record is not None else _DUMMY_HASH
        matches = hmac.compare_digest(expected, hash_secret(secret))
        if record is None or record.revoked or not matches:
            return None
        return record.key

    async def _record(self, key_id: str) -> _Record | None:
        now = self.clock()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            record = await asyncio.wait_for(self._load(key_id), LOOKUP_TIMEOUT_S)
        except (SQLAlchemyError, OSError, TimeoutError) as err:
            log.warning("API key lookup failed: %s", type(err).__name__)
            raise ServiceError(
                Code.UNAVAILABLE,
                "UNAVAILABLE",
                "API keys cannot be checked right now; retry later",
            ) from None
        if len(self._cache) >= self.max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
        if self.ttl_s > 0:
            self._cache[key_id] = (now + self.ttl_s, record)
        return record

    async def _load(self, key_id: str) -> _Record | None:
        query = select(
            api_keys.c.name,
            api_keys.c.secret_hash,
            api_keys.c.scopes,
            api_keys.c.rate_limit,
            api_keys.c.revoked_at.is_not(None).label("revoked"),
        ).where(api_keys.c.key_id == key_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        key = ApiKey(key_id, row.name, frozenset(row.scopes), row.rate_limit)
        return _Record(key, row.secret_hash, row.revoked)
