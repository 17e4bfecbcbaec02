"""The operator console: one static page with its style sheet and script modules, shipped in
the package (gateway/console_assets) and served from memory at `/console` and
`/console/assets/<name>`. The page holds no data: the operator types an API key into it and the
script calls the same public REST API as everyone else with it, so the page itself is served to
anyone (docs/adr/0020-operator-console.md); every screen's data needs a key with `ops`.

Answers carry a strict Content-Security-Policy (scripts and styles from this origin only, no
inline script, no framing), `no-cache` with an ETag (a new release is seen on the next load),
and neither a referrer nor MIME sniffing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/console"
ASSETS_PATH = "/console/assets/{name}"
_PACKAGE = "gateway.console_assets"
_PAGE = "index.html"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidated on every load (the ETag makes that a 304): a release shows at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every file of the console, by name, read once from the installed package."""
    assets = {}
    for entry in resources.files(_PACKAGE).iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            assets[entry.name] = Asset(body, _TYPES[suffix], etag)
    if _PAGE not in assets:
        raise RuntimeError(f"the console's {_PAGE} is missing from the package {_PACKAGE}")
    return assets


def _answer(request: Request, asset: Asset) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def console_routes() -> list[Route]:
    assets = load_assets()

    async def page(request: Request) -> Response:
        return _answer(request, assets[_PAGE])

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            # The gateway's JSON 404 (gateway.app), like any unknown route.
            raise HTTPException(status_code=404)
        return _answer(request, found)

    return [
        Route(PATH, page, methods=["GET"]),
        Route(ASSETS_PATH, asset, methods=["GET"]),
    ]
