"""What the `paymesh recon` commands share: calls to the gateway's /v1/recon routes with the
stack's API key, and a refusal printed as the gateway gave it (exit 1)."""

from __future__ import annotations

import uuid
from typing import Any

import click

from paymesh_cli.target import Target


def call(
    target: Target,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {target.api_key}"}
    if method == "POST":
        headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
    try:
        reply = httpx.request(
            method,
            f"{target.gateway_url}{path}",
            json=body if method == "POST" else None,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            headers=headers,
            timeout=60,
        )
    except httpx.HTTPError as err:
        raise click.ClickException(
            f"the gateway at {target.gateway_url} did not answer: {err}"
        ) from None
    if reply.status_code >= 400:
        click.echo(reply.text, err=True)
        raise SystemExit(1)
    answer: dict[str, Any] = reply.json()
    return answer


def short(enum_value: str, prefix: str) -> str:
    return enum_value.removeprefix(prefix)
