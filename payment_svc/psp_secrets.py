"""The rule for the PSP's secrets: the sandbox's published API key and webhook secret are for the
sandbox only.

They are in this repository for anyone to read, so a payment service that talks to a real PSP
with them would accept webhooks anyone can sign. A service that is not talking to the local
sandbox (PSP_API_BASE not a loopback address), or runs with PAYMESH_ENV=production, refuses to
start with either of them, and with an empty secret anywhere.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from mesh.settings import SettingsError

# The sandbox's own, published on purpose (psp_sandbox.settings, paymesh_cli.dev).
SANDBOX_API_KEY = "sk_test_paymesh_dev"
SANDBOX_WEBHOOK_SECRET = "whsec_paymesh_sandbox_dev"


def env_secret(name: str, default: str) -> str:
    """The secret in `name`, `default` when unset; a variable set to blanks is a mistake (an
    unfilled template, an empty Secret), never a silent fallback to the published default."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.strip():
        raise SettingsError(f"{name} is set but empty: give the PSP's secret or unset it")
    return raw.strip()


def is_loopback_url(url: str) -> bool:
    """True when `url` points at this machine (127.0.0.0/8, ::1, localhost): the local sandbox."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_published_secrets(
    psp_api_base: str, psp_api_key: str, webhook_secret: str, *, production: bool
) -> None:
    """SettingsError, in one line saying why and what to set, unless the secrets are safe for
    where the service talks to."""
    for name, value in (("PSP_API_KEY", psp_api_key), ("STRIPE_WEBHOOK_SECRET", webhook_secret)):
        if not value:
            raise SettingsError(f"{name} is empty: set the PSP's secret")
    if is_loopback_url(psp_api_base) and not production:
        return
    where = "PAYMESH_ENV=production" if production else f"PSP_API_BASE={psp_api_base} is not local"
    if psp_api_key == SANDBOX_API_KEY:
        raise SettingsError(
            f"PSP_API_KEY is the sandbox's published key but {where}: set your PSP's API key"
        )
    if webhook_secret == SANDBOX_WEBHOOK_SECRET:
        raise SettingsError(
            f"STRIPE_WEBHOOK_SECRET is the sandbox's published secret but {where}: set the "
            "signing secret of your PSP's webhook endpoint"
        )
