"""The keys buyer PII is encrypted with (AES-256-GCM), from PII_KEYS and PII_ACTIVE_KEY_ID.

PII_KEYS="k1:<base64 of 32 bytes>,k2:<...>" lists every key that may still be needed to read;
PII_ACTIVE_KEY_ID names the one new values are sealed with. Rotating is adding a key, making it
active, and letting the re-encryption (`paymesh pii rotate`, or the service's own background
pass) move old rows to it; a key leaves PII_KEYS only once no row uses it.

Without PII_KEYS the service uses a fixed development key, published here on purpose: it is for
the embedded dev stack only, and a service with PAYMESH_ENV=production refuses to start on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re

from mesh.settings import SettingsError

DEV_KEY_ID = "dev"
# Public: anyone can decrypt what the dev stack stores. Never for real buyers.
DEV_KEY = hashlib.sha256(b"paymesh embedded dev stack PII key; public, never production").digest()
KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def parse_pii_keys(raw: str) -> dict[str, bytes]:
    """{key id: 32-byte key} from "id:base64,id:base64"; SettingsError naming what is wrong
    (never the key itself)."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise SettingsError(
                "PII_KEYS must be a comma-separated list of <id>:<base64 key>, ids of letters, "
                "digits, _ and -"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError(f"PII_KEYS: key {key_id} is not base64") from None
        if len(key) != KEY_BYTES:
            raise SettingsError(f"PII_KEYS: key {key_id} must be {KEY_BYTES} bytes, not {len(key)}")
        if key_id in keys:
            raise SettingsError(f"PII_KEYS: key id {key_id} is listed twice")
        keys[key_id] = key
    return keys


def pii_keys_from_env(*, production: bool) -> tuple[dict[str, bytes], str]:
    """(keys, active key id) from PII_KEYS and PII_ACTIVE_KEY_ID (default: the only key, or
    the last one listed)."""
    raw = os.environ.get("PII_KEYS", "").strip()
    if not raw:
        if production:
            raise SettingsError(
                "PII_KEYS is not set and PAYMESH_ENV=production: give the keys buyer PII is "
                "encrypted with (PII_KEYS=k1:<base64 of 32 random bytes>)"
            )
        return {DEV_KEY_ID: DEV_KEY}, DEV_KEY_ID
    keys = parse_pii_keys(raw)
    if not keys:
        raise SettingsError("PII_KEYS lists no key")
    active = os.environ.get("PII_ACTIVE_KEY_ID", "").strip() or list(keys)[-1]
    if active not in keys:
        raise SettingsError(f"PII_ACTIVE_KEY_ID={active} is not one of the ids in PII_KEYS")
    if production and DEV_KEY in keys.values():
        raise SettingsError("PII_KEYS holds the published dev key and PAYMESH_ENV=production")
    return keys, active
