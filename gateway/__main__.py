"""python -m gateway: the public REST API in one uvicorn process; SIGTERM/SIGINT stop it
gracefully (requests in flight finish, then channels and the database pool close)."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mesh.logs import setup_logging


def main() -> int:
    settings = GatewaySettings.from_env()
    setup_logging("gateway", settings.log_level)
    config = uvicorn.Config(
        create_app(settings),
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
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
