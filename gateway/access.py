"""Who may call a derived route: the caller's API key (failed attempts limited per client
address before the database is asked), the key's rate limit, then the scope the contract asks
for. All of it is in memory once the key is cached: no database round trip per request."""

from __future__ import annotations

from starlette.requests import Request

from gateway.auth import ApiKey, ApiKeyVerifier, authenticate
from gateway.rate_limits import RateLimits, rate_limited
from gateway.scopes import OPS, SCOPES, scope_missing
from mesh.errors import ServiceError

# The caller's scopes, comma-separated, for the upstream (next to its key id): a service may
# show more to an `ops` key.
SCOPES_METADATA = "x-paymesh-key-scopes"
_AUTH_FAILURES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})


def client_address(request: Request) -> str:
    """The peer's address (uvicorn runs without proxy headers: it cannot be forged)."""
    return request.client.host if request.client is not None else "unknown"


def scopes_header(key: ApiKey) -> str:
    return ",".join(s for s in SCOPES if s in key.scopes)


class Gatekeeper:
    def __init__(self, verifier: ApiKeyVerifier, limits: RateLimits) -> None:
        self.verifier = verifier
        self.limits = limits

    async def authenticate(self, request: Request) -> ApiKey:
        """The caller's key: 401 without one, 403 for a wrong one, 429 when its address failed
        too often lately (refused before the key is looked up)."""
        address = client_address(request)
        self.limits.check_address(address)
        try:
            return await authenticate(request.headers.get("authorization"), self.verifier)
        except ServiceError as err:
            if err.reason in _AUTH_FAILURES:
                self.limits.auth_failed(address)
            raise

    async def admit(self, request: Request, scope: str) -> ApiKey:
        """The caller's key when it may call a route needing `scope`. Sets `request.state`'s
        `api_key` and `quota` (for the RateLimit-* headers) as soon as they are known."""
        key = await self.authenticate(request)
        request.state.api_key = key
        quota = self.limits.hit_key(key.key_id, key.rate_limit)
        request.state.quota = quota
        if not quota.allowed:
            raise rate_limited(quota)
        if scope not in key.scopes:
            raise scope_missing(scope)
        return key

    async def is_ops(self, request: Request) -> bool:
        """Whether the caller sent a valid key holding `ops`; never raises (for /readyz, which
        answers everyone, in more detail to operators)."""
        if "authorization" not in request.headers:
            return False
        try:
            key = await self.authenticate(request)
        except ServiceError:
            return False
        return OPS in key.scopes
