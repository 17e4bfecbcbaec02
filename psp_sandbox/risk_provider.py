"""A remote risk provider for the payment service to call (RISK_PROVIDER_URL), served by the
sandbox so that tests and the dev stack have one to point at, with a fault toggle.

    POST /v1/risk/assessments     {"checkout_id", "buyer_id", "payment_method", "orders": [...]}
                                  -> {"id", "outcome": "allow"|"deny", "score", "reason"}
    GET  /_sandbox/risk_faults    {"mode", "delay_ms", "assessed"}
    POST /_sandbox/risk_faults    {"mode": "ok"|"down"|"slow", "delay_ms": 5000}

Its rule is made for tests: a buyer id containing "fraud" is denied (score 95), anyone else is
allowed (score 5). `down` answers 503; `slow` waits `delay_ms` before answering (a caller with a
shorter timeout sees a timeout). The toggle lives in memory: a restarted sandbox answers again.
Both need the API key, like /v1.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_request
from psp_sandbox.ids import new_id

MODES = ("ok", "down", "slow")


@dataclass
class RiskFaults:
    mode: str = "ok"
    delay_ms: int = 5000
    assessed: int = 0  # assessments answered (a test sees whether the provider was asked)


class RiskProviderRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self.faults = RiskFaults()

    def _authenticate(self, request: Request) -> None:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)

    async def assess(self, request: Request) -> Response:
        self._authenticate(request)
        if self.faults.mode == "down":
            body = {"error": {"type": "api_error", "message": "risk provider down (fault)"}}
            return JSONResponse(body, status_code=503)
        if self.faults.mode == "slow":
            await asyncio.sleep(self.faults.delay_ms / 1000)
        try:
            assessment = json.loads(await request.body() or b"{}")
            buyer_id = str(assessment["buyer_id"])
        except (ValueError, KeyError, TypeError):
            raise invalid_request("An assessment needs a JSON body with buyer_id.") from None
        self.faults.assessed += 1
        denied = "fraud" in buyer_id
        return JSONResponse(
            {
                "id": new_id("ra_"),
                "outcome": "deny" if denied else "allow",
                "score": 95 if denied else 5,
                "reason": "buyer looks fraudulent" if denied else "",
            }
        )

    async def read_faults(self, request: Request) -> Response:
        self._authenticate(request)
        return JSONResponse(self._faults_json())

    async def set_faults(self, request: Request) -> Response:
        self._authenticate(request)
        try:
            body = json.loads(await request.body() or b"{}")
            mode = str(body.get("mode", "ok"))
            delay_ms = int(body.get("delay_ms", self.faults.delay_ms))
        except (ValueError, TypeError, AttributeError):
            raise invalid_request("The risk fault config must be JSON.") from None
        if mode not in MODES or delay_ms < 0:
            raise invalid_request(f"mode must be one of {', '.join(MODES)}; delay_ms >= 0")
        self.faults.mode, self.faults.delay_ms = mode, delay_ms
        return JSONResponse(self._faults_json())

    def _faults_json(self) -> dict[str, object]:
        f = self.faults
        return {"mode": f.mode, "delay_ms": f.delay_ms, "assessed": f.assessed}
