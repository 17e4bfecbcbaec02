"""One headless Chromium per test module (each with a fresh profile, deleted afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_harness import headless_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """The module's Chromium, on a blank page before and after the test."""
    browser.delete_all_cookies()
    yield browser
    browser.get("about:blank")
