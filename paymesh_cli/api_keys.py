"""`paymesh api-key create|revoke`: the operator's way to hand out and withdraw API keys.

A key is shown once, when it is made; only its hash is stored. It may do what its scopes say and
nothing else (a key for a checkout page: `--scope payments:write`). Idempotency keys live in
the space of the API key that sent them, so two clients never collide on one. Both commands are
written to the audit log (`paymesh audit`) with the OS user who ran them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from paymesh_cli.target import resolve_target, target_options


def _database_url(data_dir: Path, database_url: str | None) -> str:
    target = resolve_target(data_dir, None, None, database_url)
    if not target.database_url:
        raise click.ClickException("no database URL: pass --database-url or --data-dir")
    return target.database_url


@click.group("api-key")
def api_key_group() -> None:
    """Create and revoke API keys for the REST API."""


@api_key_group.command("create")
@click.argument("name_argument", metavar="[NAME]", required=False)
@click.option("--name", "name_option", default=None, help="Who the key is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="What the key may do (repeatable): payments:write, payments:read, refunds:write, "
    "payouts:write, payouts:read, ledger:read, recon, ops.",
)
@click.option(
    "--rate-limit",
    default=None,
    help="Its own rate, e.g. 200/second (default: the gateway's GATEWAY_RATE_LIMIT).",
)
@target_options
def create_key(
    name_argument: str | None,
    name_option: str | None,
    scopes: tuple[str, ...],
    rate_limit: str | None,
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """Make a key named NAME (or --name) and print it (the only time it is shown)."""
    from gateway.api_keys import issue_api_key
    from gateway.rate_limits import RateError
    from gateway.scopes import UnknownScopeError

    if name_argument and name_option and name_argument != name_option:
        raise click.UsageError("give the name once: NAME or --name")
    name = name_option or name_argument
    if not name:
        raise click.UsageError("the key needs a name: --name NAME")
    try:
        key = asyncio.run(
            issue_api_key(
                _database_url(data_dir, database_url), name, list(scopes), rate_limit=rate_limit
            )
        )
    except (UnknownScopeError, RateError) as err:
        raise click.BadParameter(str(err)) from None
    except (OperationalError, OSError) as err:
        raise click.ClickException(f"cannot reach the database ({type(err).__name__})") from None
    click.echo(key)


@api_key_group.command("revoke")
@click.argument("key_id")
@target_options
def revoke_key(
    key_id: str, data_dir: Path, url: str | None, api_key: str | None, database_url: str | None
) -> None:
    """Revoke the key whose id is KEY_ID (the part between `pmk_` and the next `_`)."""
    from gateway.api_keys import revoke_api_key

    try:
        revoked = asyncio.run(revoke_api_key(_database_url(data_dir, database_url), key_id))
    except (OperationalError, OSError) as err:
        raise click.ClickException(f"cannot reach the database ({type(err).__name__})") from None
    if not revoked:
        raise click.ClickException(f"no live key with id {key_id}")
    click.echo(f"revoked {key_id}")
