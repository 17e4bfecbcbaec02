"""Running a service process: logging, signal handling, background tasks, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvloop

from mesh import tracing
from mesh.logs import setup_logging

log = logging.getLogger(__name__)


class Lifecycle:
    """Background tasks of a service. A task that dies unexpectedly stops the service (a crashed
    consumer must not leave a process that looks healthy), and stop() cancels the rest."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.failed: BaseException | None = None

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_done)
        self.tasks.append(task)

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self.stopping.is_set():
            return
        err = task.exception()
        log.error("background task %s ended: %r; stopping", task.get_name(), err)
        self.failed = err or RuntimeError(f"{task.get_name()} ended")
        self.stopping.set()

    async def cancel_all(self, within: float = 10.0) -> None:
        """Cancel every task and wait up to `within` seconds for them to end. A task that
        swallows its cancellation would otherwise hold the stop forever (and the pool and NATS
        behind it): it is named, with where it is stuck, and left behind."""
        for task in self.tasks:
            task.cancel()
        if not self.tasks:
            return
        done, pending = await asyncio.wait(self.tasks, timeout=within)
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: ended on its way out, nothing to report
        for task in pending:
            log.error(
                "background task %s did not stop within %.0fs of its cancellation; left at:%s",
                task.get_name(),
                within,
                "".join(f"\n  {where}" for where in _awaiting(task)),
            )


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where a suspended task is, outermost first: its coroutine and what each one awaits
    (Task.get_stack gives only the outermost frame of a coroutine)."""
    found = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            found.append(repr(awaited))
            break
        found.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return found


def run(
    service: str, level: str, main: Callable[[Lifecycle], Awaitable[Callable[[], Awaitable[None]]]]
) -> int:
    """Run `main` (which starts the service and returns its stop function) until SIGTERM or
    SIGINT, then stop gracefully. Returns the process exit code."""
    setup_logging(service, level)
    tracing.setup(service)  # from the OTEL_* variables; off unless an OTLP endpoint is set

    async def _run() -> int:
        life = Lifecycle()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, life.stopping.set)
        stop = await main(life)
        log.info("%s started", service)
        await life.stopping.wait()
        life.stopping.set()
        log.info("%s stopping", service)
        # `stop` owns the order: gRPC server first, then background tasks
        # (life.cancel_all), then NATS and the database pool.
        await stop()
        await life.cancel_all()  # no-op when `stop` already did it
        tracing.shutdown()  # the last spans exported
        log.info("%s stopped", service)
        return 1 if life.failed else 0

    # uvloop: the same asyncio API on libuv, with much less CPU per socket operation, which is
    # most of what a service here does (database, NATS, PSP and gRPC round trips).
    return uvloop.run(_run())
