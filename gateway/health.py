"""/healthz: the process is alive. /readyz: the database answers and every upstream gRPC
service answers the standard health check with SERVING. Which dependency is not ready is said
only to an `ops` key: the rest of the world learns the status (200 or 503), not the inside."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.routes import OPS_SERVICE
from gateway.upstream import Upstreams
from paymesh.ops.v1 import ops_pb2

DbCheck = Callable[[], Awaitable[None]]
IsOps = Callable[[Request], Awaitable[bool]]
CHECK_TIMEOUT_S = 2.0


def engine_check(engine: AsyncEngine) -> DbCheck:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _database(check: DbCheck) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except Exception as err:  # any failure means "not ready"; the type is enough to say why
        return f"UNAVAILABLE ({type(err).__name__})"
    return "SERVING"


async def _psp_breaker(upstreams: Upstreams) -> dict[str, object]:
    """The PSP circuit breaker of the payment service process that answers (one of its
    replicas: each has its own); not part of readiness (an open breaker is an outage of the
    PSP, not of paymesh, and checkouts are still accepted)."""
    try:
        reply = await asyncio.wait_for(
            upstreams.unary(
                OPS_SERVICE.full_name,
                f"/{OPS_SERVICE.full_name}/GetPspBreaker",
                ops_pb2.GetPspBreakerRequest(),
                ops_pb2.GetPspBreakerResponse,
            ),
            CHECK_TIMEOUT_S,
        )
    except Exception as err:  # an older payment service, or one going away: say so
        return {"state": "unknown", "error": type(err).__name__}
    breaker = reply.message
    assert isinstance(breaker, ops_pb2.GetPspBreakerResponse)
    return {"state": breaker.state, "open_for_s": round(breaker.open_for_s, 1)}


def make_readyz(
    db_check: DbCheck, upstreams: Upstreams, is_ops: IsOps
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def readyz(request: Request) -> JSONResponse:
        names = ["database", *upstreams.services]
        results = await asyncio.gather(
            _database(db_check),
            *(upstreams.health(service, CHECK_TIMEOUT_S) for service in upstreams.services),
        )
        checks = dict(zip(names, results, strict=True))
        not_ready = [name for name, status in checks.items() if status != "SERVING"]
        body: dict[str, object] = {"status": "not_ready" if not_ready else "ready"}
        if await is_ops(request):
            body["checks"] = checks
            if not_ready:
                body["not_ready"] = not_ready
            if checks.get(OPS_SERVICE.full_name) == "SERVING":
                body["psp_breaker"] = await _psp_breaker(upstreams)
        return JSONResponse(body, status_code=503 if not_ready else 200)

    return readyz
