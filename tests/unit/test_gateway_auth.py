"""API keys: parsing the header, hashing, the cached verifier (its database read faked)."""

from __future__ import annotations

import hashlib

import pytest

from gateway.api_keys import DbApiKeyVerifier, _Record, hash_secret, new_key
from gateway.auth import ApiKey, authenticate, parse_authorization, split_key
from mesh.errors import Code, ServiceError

pytestmark = pytest.mark.unit


def test_new_keys_are_well_formed_and_unique() -> None:
    key_id, secret, plaintext = new_key()
    assert plaintext == f"pmk_{key_id}_{secret}"
    assert split_key(plaintext) == (key_id, secret)
    assert new_key()[2] != plaintext
    assert hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer abc", "Bearer pmk_xyz_short", "pmk_0"],
)
def test_missing_or_malformed_headers_are_unauthenticated(header: str | None) -> None:
    with pytest.raises(ServiceError) as err:
        parse_authorization(header)
    assert err.value.code == Code.UNAUTHENTICATED


def test_bearer_scheme_is_case_insensitive() -> None:
    _, secret, key = new_key()
    assert parse_authorization(f"bearer {key}")[1] == secret


class CountingVerifier(DbApiKeyVerifier):
    """The real cache and comparison; the row read from a dict."""

    def __init__(self, rows: dict[str, _Record], clock: list[float]) -> None:
        super().__init__(engine=None, ttl_s=30.0, clock=lambda: clock[0])  # type: ignore[arg-type]
        self.rows = rows
        self.loads = 0

    async def _load(self, key_id: str) -> _Record | None:
        self.loads += 1
        return self.rows.get(key_id)


async def test_verifier_compares_hashes_and_caches_rows() -> None:
    key_id, secret, key = new_key()
    api_key = ApiKey(key_id, "shop", frozenset({"payments:write"}))
    rows = {key_id: _Record(api_key, hash_secret(secret), revoked=False)}
    now = [100.0]
    verifier = CountingVerifier(rows, now)
    assert await authenticate(f"Bearer {key}", verifier) == api_key
    assert await verifier.verify(key_id, secret) == api_key
    assert await verifier.verify(key_id, secret + "x") is None  # wrong secret, cached row
    assert verifier.loads == 1
    rows[key_id] = _Record(api_key, hash_secret(secret), revoked=True)
    now[0] += 31  # past the TTL: the revocation is seen
    assert await verifier.verify(key_id, secret) is None
    assert verifier.loads == 2


async def test_unknown_wrong_and_revoked_keys_are_permission_denied() -> None:
    key_id, _secret, key = new_key()
    other_id, other_secret, other = new_key()
    rows = {
        key_id: _Record(ApiKey(key_id, "a", ()), hash_secret("something else"), revoked=False),
        other_id: _Record(ApiKey(other_id, "b", ()), hash_secret(other_secret), revoked=True),
    }
    verifier = CountingVerifier(rows, [0.0])
    _, _, unknown = new_key()
    for header in (f"Bearer {key}", f"Bearer {other}", f"Bearer {unknown}"):
        with pytest.raises(ServiceError) as err:
            await authenticate(header, verifier)
        assert err.value.code == Code.PERMISSION_DENIED


class BrokenVerifier(DbApiKeyVerifier):
    async def _load(self, key_id: str) -> _Record | None:
        raise OSError("connection refused")


async def test_a_database_that_cannot_answer_is_unavailable_not_an_internal_error() -> None:
    key_id, secret, _ = new_key()
    verifier = BrokenVerifier(engine=None)  # type: ignore[arg-type]
    with pytest.raises(ServiceError) as err:
        await verifier.verify(key_id, secret)
    assert (err.value.code, err.value.reason) == (Code.UNAVAILABLE, "UNAVAILABLE")
