"""The gateway's rate-limit storage: the same counts as the library's, without a thread per
request."""

from __future__ import annotations

import threading

import pytest

from gateway.rate_limits import RateLimits

pytestmark = pytest.mark.unit


def test_a_burst_is_limited_without_starting_threads() -> None:
    limits = RateLimits("5/minute", "3/minute")
    before = threading.active_count()

    allowed = [limits.hit_key("key-1", None).allowed for _ in range(8)]

    assert allowed == [True] * 5 + [False] * 3
    assert limits.hit_key("key-2", None).allowed  # another key has its own budget
    assert threading.active_count() <= before
