"""A marketplace's webhook receiver for tests: an HTTP server on 127.0.0.1 (a free port) that
records every POST and answers what the test scripted (200 unless told), optionally slowly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    path: str  # "/<name>"
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base: str = ""
    received: list[Received] = field(default_factory=list)
    # path -> statuses to answer, in order; 200 once they are used up (or `always`).
    script: dict[str, list[int]] = field(default_factory=dict)
    always: dict[str, int] = field(default_factory=dict)
    delay_s: dict[str, float] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def at(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/{name}"]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        await asyncio.sleep(self.delay_s.get(path, 0))
        self.received.append(Received(path, dict(request.headers), body))
        queued = self.script.get(path)
        status = queued.pop(0) if queued else self.always.get(path, 200)
        return Response(status_code=status)


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{name}", receiver._handle, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield receiver
    finally:
        # Slow handlers must not hold the test's end.
        server.should_exit = True
        server.force_exit = True
        await task
        sock.close()
