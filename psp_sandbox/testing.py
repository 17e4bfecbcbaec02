"""Running the sandbox inside a test: through ASGI in-process, or on a real local port.

A real port is for what ASGI cannot show: the stripe SDK's own HTTP client, a dropped
connection, a response slower than the client's timeout, webhooks posted back to the test.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from psp_sandbox.app import create_app
from psp_sandbox.settings import SandboxSettings

TEST_API_KEY = "sk_test_unit"


@asynccontextmanager
async def in_process(
    settings: SandboxSettings, clock: Callable[[], float] = time.time
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the sandbox app through ASGI; leaving it runs the app's shutdown."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://sandbox",
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        ) as client:
            yield client


@asynccontextmanager
async def served(settings: SandboxSettings) -> AsyncIterator[str]:
    """The sandbox served by uvicorn on 127.0.0.1 at a free port; yields its base URL."""
    async with serving(create_app(settings)) as base_url:
        yield base_url


@dataclass
class WebhookReceiver:
    """A local endpoint that records the webhooks posted to it."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    # Statuses to answer with, in turn; 200 once used up.
    statuses: list[int] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver("")

    async def receive(request: Request) -> Response:
        receiver.received.append((dict(request.headers), await request.body()))
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return Response(status_code=status)

    app = Starlette(routes=[Route("/webhooks", receive, methods=["POST"])])
    async with serving(app) as base_url:
        receiver.url = f"{base_url}/webhooks"
        yield receiver


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Any ASGI app served by uvicorn on 127.0.0.1 at a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        # Requests left hanging on purpose (timeout faults) must not hold the shutdown long.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # start-up failed: raise its error
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
