"""A service's stop cancels its background tasks and waits for them, but not forever: a task
that swallows its cancellation is named, with where it is stuck, and the stop goes on (the
pool and NATS behind it still close)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mesh.runtime import Lifecycle

pytestmark = pytest.mark.unit


async def _stubborn(release: asyncio.Event) -> None:
    while not release.is_set():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue  # the bug this guards against: a cancellation swallowed


async def _polite() -> None:
    await asyncio.sleep(3600)


async def test_a_task_that_ignores_its_cancellation_is_named_and_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    life = Lifecycle()
    release = asyncio.Event()
    life.spawn("stubborn-relay", _stubborn(release))
    life.spawn("polite-sweeper", _polite())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.ERROR, logger="mesh.runtime"):
        await life.cancel_all(within=0.2)
    assert loop.time() - started < 2
    [record] = [r for r in caplog.records if "did not stop" in r.getMessage()]
    assert "stubborn-relay" in record.getMessage()
    assert "in _stubborn" in record.getMessage()  # where it is stuck
    assert "polite-sweeper" not in record.getMessage()
    polite = next(t for t in life.tasks if t.get_name() == "polite-sweeper")
    assert polite.cancelled()
    release.set()
    stubborn = next(t for t in life.tasks if t.get_name() == "stubborn-relay")
    stubborn.cancel()
    await asyncio.wait([stubborn], timeout=1)


async def test_tasks_that_stop_are_waited_for_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    life = Lifecycle()
    life.spawn("a", _polite())
    life.spawn("b", _polite())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="mesh.runtime"):
        await life.cancel_all(within=5)
    assert all(t.cancelled() for t in life.tasks)
    assert not [r for r in caplog.records if "did not stop" in r.getMessage()]
