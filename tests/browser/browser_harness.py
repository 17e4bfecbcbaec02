"""What the browser tests share: headless Chromium from Debian's packages driven through its
ChromeDriver (selenium, never Selenium Manager: nothing is downloaded), servers on 127.0.0.1 run
by an event loop of their own in a thread (the tests and selenium block), the shop's side of a
hosted checkout (the page the buyer is sent back to, the webhook endpoint), and a buyer typing a
card into the PSP's payment page."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from devstack import tied_to_session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",  # 127.0.0.1 only, whatever proxy the environment names
    "--window-size=1024,768",
)
WAIT_S = 15.0
T = TypeVar("T")


def require_chromium() -> None:
    """Fail (never skip) when Chromium or ChromeDriver is missing, saying how to get them."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"browser tests need headless Chromium and ChromeDriver; missing: {', '.join(missing)}."
            " Install them with `bash scripts/ensure_chromium.sh` (Debian's chromium and"
            " chromium-driver; `make test` and `make browser` run it).",
            pytrace=False,
        )


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """A headless Chromium with a fresh profile, quit and its profile deleted on the way out."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def no_selenium_manager(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Selenium Manager must not run: it downloads browsers and drivers")

    profile = tempfile.mkdtemp(prefix="paymesh-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = None
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SeleniumManager, "binary_paths", no_selenium_manager)
            # Tied to the test process: a test that times out ends it without teardown.
            service = Service(CHROMEDRIVER, popen_kw={"preexec_fn": tied_to_session()})
            driver = webdriver.Chrome(options=options, service=service)
        driver.set_page_load_timeout(WAIT_S)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class ServerThread:
    """An asyncio loop in a thread of its own, serving whatever async context managers are
    entered into it until `close`."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="browser-test-servers", daemon=True
        )
        self._thread.start()
        self._stack = AsyncExitStack()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def enter(self, manager: AbstractAsyncContextManager[T]) -> T:
        return self.run(self._stack.enter_async_context(manager))

    def close(self) -> None:
        try:
            self.run(self._stack.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


@dataclass
class Shop:
    """The shop's side of a hosted checkout, on 127.0.0.1: `/shop/paid`, `/shop/failed` and
    `/shop/return`, the pages the PSP sends the buyer back to, and `/webhooks`, which records
    what the PSP posts."""

    base_url: str = ""
    returns: list[dict[str, str]] = field(default_factory=list)
    webhooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def returned(request: Request) -> Response:
            query = dict(request.query_params)
            self.returns.append(query)
            result = html.escape(query.get("result", ""))
            body = f'<h1>Back at the shop</h1><p id="result">Payment {result}</p>'
            return HTMLResponse(f"<!doctype html><title>Shop</title>{body}")

        async def webhook(request: Request) -> Response:
            self.webhooks.append((dict(request.headers), await request.body()))
            return Response(status_code=200)

        return Starlette(
            routes=[
                Route("/shop/paid", returned, methods=["GET"]),
                Route("/shop/failed", returned, methods=["GET"]),
                Route("/shop/return", returned, methods=["GET"]),
                Route("/webhooks", webhook, methods=["POST"]),
            ]
        )

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks"

    def events(self, secret: str) -> list[Any]:
        """Every webhook received so far, each verified with the SDK (raises on a bad one)."""
        import stripe

        return [
            stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], secret)
            for headers, body in list(self.webhooks)
        ]

    def wait_for_event(self, secret: str, kind: str, intent_id: str) -> Any:
        """The verified `kind` event about PaymentIntent `intent_id`, waiting for it to arrive."""
        deadline = time.monotonic() + WAIT_S
        while True:
            for event in self.events(secret):
                if event.type == kind and event.data.object.id == intent_id:
                    return event
            if time.monotonic() > deadline:
                seen = [(e.type, e.data.object.id) for e in self.events(secret)]
                raise AssertionError(f"no {kind} webhook for {intent_id} within {WAIT_S}s: {seen}")
            time.sleep(0.05)


def future_expiry() -> str:
    """An expiry date three years ahead, as a buyer types it: `MM / YY`."""
    return f"12 / {(datetime.now(UTC).year + 3) % 100:02d}"


def pay_on_page(driver: Any, url: str, number: str, cvc: str = "123") -> None:
    """Open the payment page and type a card into its form, as a buyer would, and submit."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, WAIT_S).until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button[type=submit]"))
    )
    assert driver.title.startswith("Pay "), driver.page_source
    for name, value in (("card_number", number), ("expiry", future_expiry()), ("cvc", cvc)):
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    button = driver.find_element(By.CSS_SELECTOR, "button[type=submit]")
    button.click()
    WebDriverWait(driver, WAIT_S).until(expected_conditions.staleness_of(button))


def landed(driver: Any, path: str) -> dict[str, str]:
    """Wait for the browser to be on `path`; the query of the URL it is on."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(lambda d: urlsplit(d.current_url).path == path)
    return {
        name: values[0] for name, values in parse_qs(urlsplit(driver.current_url).query).items()
    }


def eventually(check: Callable[[], T], what: str, within: float = 30.0) -> T:
    """Poll `check` until it returns something truthy (returned) or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within}s, last {result!r}")
        time.sleep(0.1)
