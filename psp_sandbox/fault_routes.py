"""The admin API of the per-run fault config: `/_sandbox/faults`.

    POST   /_sandbox/faults  {"seed": 7, "decline_rate": 0.1, ...}  replace the config
    GET    /_sandbox/faults                                         the config in force
    DELETE /_sandbox/faults                                         back to no faults

The config is journaled, so a restarted sandbox keeps injecting the same faults. Settings left
out of a POST take their defaults (see faults.FaultConfig). Needs the API key, like /v1.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox.auth import authenticate
from psp_sandbox.context import CONFIG, FAULTS, SandboxContext
from psp_sandbox.errors import invalid_request
from psp_sandbox.faults import FaultConfig
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import encode, json_response


class FaultRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def read(self, request: Request) -> Response:
        self._authenticate(request)
        return self._answer(self._context.fault_config())

    async def replace(self, request: Request) -> Response:
        self._authenticate(request)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise invalid_request("The fault config must be JSON.") from None
        config = FaultConfig.from_json(body)
        self._context.store.save(records=[(CONFIG, FAULTS, config.to_json())])
        return self._answer(config)

    async def reset(self, request: Request) -> Response:
        self._authenticate(request)
        self._context.store.save(records=[(CONFIG, FAULTS, None)])
        return self._answer(FaultConfig())

    def _authenticate(self, request: Request) -> None:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)

    def _answer(self, config: FaultConfig) -> Response:
        return json_response(200, encode(config.to_json()), new_id("req_"))
