"""`python -m psp_sandbox`: serve the sandbox PSP until SIGTERM or SIGINT."""

from __future__ import annotations

import uvicorn

from psp_sandbox.app import create_app
from psp_sandbox.settings import SandboxSettings


def main() -> None:
    settings = SandboxSettings.from_env()
    # uvicorn traps SIGTERM/SIGINT and drains in-flight requests before the lifespan closes
    # the journal. No access log: the benchmark sends thousands of requests.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
