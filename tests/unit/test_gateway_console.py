"""The operator console's page at /console: served to anyone (it holds no data; its screens
call the API with the operator's key), with a strict Content-Security-Policy, no-cache with an
ETag, every asset it names shipped in the package, and nothing inline."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from gateway.auth import ApiKey
from gateway.console import load_assets
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit


class NoKeys:
    async def verify(self, key_id: str, secret: str) -> ApiKey | None:
        return None


class NoAudit:
    async def record(self, entry: object) -> None:
        return None


async def db_ok() -> None:
    return None


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # No upstream is called: the console is static; the gateway's channels connect lazily.
    app = create_app(GatewaySettings(), verifier=NoKeys(), db_check=db_ok, audit=NoAudit())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        yield http


async def test_the_page_is_served_to_anyone_as_html_with_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "<title>paymesh operator console</title>" in page.text


async def test_an_unchanged_asset_is_not_sent_again(client: httpx.AsyncClient) -> None:
    first = await client.get("/console/assets/console.js")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/javascript; charset=utf-8"
    again = await client.get(
        "/console/assets/console.js", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert (await client.get("/console/assets/console.css")).headers["content-type"] == (
        "text/css; charset=utf-8"
    )


async def test_an_unknown_asset_is_the_gateways_json_404(client: httpx.AsyncClient) -> None:
    for path in ("/console/assets/nope.js", "/console/assets/..%2Fapp.py", "/console/x"):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["status"] == "NOT_FOUND"


def test_every_asset_named_is_shipped_and_nothing_runs_inline() -> None:
    assets = load_assets()
    page = assets["index.html"].body.decode()
    named = set(re.findall(r'(?:src|href)="/console/assets/([^"]+)"', page))
    for asset in assets.values():
        if asset.media_type.startswith("text/javascript"):
            named |= set(re.findall(r'from "\./([^"]+)"', asset.body.decode()))
    assert named and named <= set(assets), named - set(assets)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline script: the CSP refuses it"
    assert not re.search(r"\son[a-z]+=", page), "inline event handler: the CSP refuses it"
    for name, asset in assets.items():
        # Data is rendered with textContent only (gateway/console_assets/dom.js).
        assert b"innerHTML" not in asset.body and b"outerHTML" not in asset.body, name
        assert b"localStorage" not in asset.body, name  # the key stays in sessionStorage
