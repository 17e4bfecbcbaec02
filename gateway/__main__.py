"""python -m gateway: the public REST API in one uvicorn process; SIGTERM/SIGINT stop it
gracefully (requests in flight finish, then channels and the database pool close)."""

from __future__ import annotations

import logging

import uvicorn

from gateway.app import create_app
from gateway.routes import RouteError
from gateway.settings import GatewaySettings
from mesh import tracing
from mesh.logs import setup_logging

log = logging.getLogger("gateway")


def main() -> int:
    settings = GatewaySettings.from_env()
    setup_logging("gateway", settings.log_level)
    tracing.setup("gateway")  # before the app makes its channels (they ask tracing.enabled())
    try:
        app = create_app(settings)
    except RouteError as err:
        log.error("gateway refuses to start: %s", err)
        return 2
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the JSON handler set up above
        access_log=False,  # the gateway logs each request itself, without bodies or raw paths
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    server.run()
    tracing.shutdown()  # the last spans exported
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
