"""How commands that act on a running stack find it: explicit options first, else the stack
file that `paymesh dev` wrote in --data-dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click


@dataclass(frozen=True)
class Target:
    gateway_url: str
    api_key: str
    database_url: str
    psp_api_base: str
    psp_api_key: str


def resolve_target(
    data_dir: Path,
    url: str | None = None,
    api_key: str | None = None,
    database_url: str | None = None,
) -> Target:
    from paymesh_cli.stackfile import StackInfo

    info = None
    try:
        info = StackInfo.load(data_dir)
    except FileNotFoundError:
        if not (url or database_url):
            raise click.ClickException(
                f"no running stack found in {data_dir} (start one with `paymesh dev`),"
                " or pass --url and --api-key (or --database-url)"
            ) from None
    key = api_key
    if key is None and info is not None and Path(info.api_key_file).exists():
        key = Path(info.api_key_file).read_text().strip()
    return Target(
        gateway_url=(url or (info.gateway_url if info else "")).rstrip("/"),
        api_key=key or "",
        database_url=database_url or (info.database_url if info else ""),
        psp_api_base=info.psp_api_base if info else "",
        psp_api_key=info.psp_api_key if info else "",
    )


def target_options(fn):  # type: ignore[no-untyped-def]
    """--data-dir / --url / --api-key / --database-url, shared by every stack command."""
    fn = click.option("--database-url", default=None, help="PostgreSQL URL of the stack.")(fn)
    fn = click.option("--api-key", default=None, help="API key (default: the dev key).")(fn)
    fn = click.option("--url", default=None, help="Gateway URL (default: from --data-dir).")(fn)
    fn = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=Path(".paymesh"),
        show_default=True,
        help="Data directory of the `paymesh dev` stack.",
    )(fn)
    return fn
