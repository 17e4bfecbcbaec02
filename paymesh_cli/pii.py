"""`paymesh pii erase|rotate`: a buyer's right to erasure, and moving sealed PII to a new key.

`erase` goes through the gateway's REST API (`POST /v1/buyers/{buyer_id}:erase`, scope `ops`), so
the request is authenticated, scoped and recorded like any other operator action. `rotate`
re-seals in the database under PII_ACTIVE_KEY_ID, with the keys of PII_KEYS (the same variables
the payment service reads): rows stored in clear before migration 0006 are sealed too.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import click
import httpx
from sqlalchemy.exc import OperationalError

from paymesh_cli.target import resolve_target, target_options


@click.group("pii")
def pii_group() -> None:
    """Erase a buyer's personal data; re-seal it under the active key."""


@pii_group.command("erase")
@click.option("--buyer", "buyer_id", required=True, help="The buyer id, as sent in buyer_info.")
@target_options
def erase_command(
    buyer_id: str, data_dir: Path, url: str | None, api_key: str | None, database_url: str | None
) -> None:
    """Erase the e-mail and name of every checkout of a buyer (money records stay)."""
    target = resolve_target(data_dir, url, api_key, database_url)
    if not target.gateway_url:
        raise click.ClickException("no gateway URL: pass --url or --data-dir")
    path = f"/v1/buyers/{quote(buyer_id, safe='')}:erase"
    try:
        response = httpx.post(
            target.gateway_url + path,
            json={},
            headers={
                "Authorization": f"Bearer {target.api_key}",
                "Idempotency-Key": str(uuid.uuid4()),
            },
            timeout=30,
        )
    except httpx.TransportError as err:
        raise click.ClickException(f"cannot reach the gateway ({type(err).__name__})") from None
    if response.status_code != 200:
        raise click.ClickException(f"erasure refused: HTTP {response.status_code} {response.text}")
    erased = response.json().get("checkouts_erased", 0)
    click.echo(f"erased the personal data of buyer {buyer_id}: {erased} checkouts")


@pii_group.command("rotate")
@target_options
def rotate_command(
    data_dir: Path, url: str | None, api_key: str | None, database_url: str | None
) -> None:
    """Re-seal every buyer's PII under PII_ACTIVE_KEY_ID (and seal rows still in clear)."""
    from mesh.db import make_engine
    from payment_svc.adapters.pii_cipher import PiiCipher
    from payment_svc.adapters.sql_pii import reseal_all
    from payment_svc.pii_keys import pii_keys_from_env

    target = resolve_target(data_dir, url, api_key, database_url)
    if not target.database_url:
        raise click.ClickException("no database URL: pass --database-url or --data-dir")
    keys, active = pii_keys_from_env(production=os.environ.get("PAYMESH_ENV") == "production")
    cipher = PiiCipher(keys, active)

    async def run() -> int:
        engine = make_engine(target.database_url, "payment", pool_size=1)
        try:
            return await reseal_all(engine, cipher)
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(run())
    except (OperationalError, OSError) as err:
        raise click.ClickException(f"cannot reach the database ({type(err).__name__})") from None
    click.echo(f"re-sealed {count} checkouts under PII key {active}")
