"""Buyer PII (e-mail, name) sealed with AES-256-GCM (the `cryptography` library's AESGCM), under
a key id so keys can rotate.

Each value is stored as base64(nonce | ciphertext+tag) with a fresh 96-bit random nonce; the
row's `buyer_pii_key_id` names the key. The associated data binds a value to its checkout and
column ("paymesh/payment_events/<checkout id>/buyer_email"), so a ciphertext copied onto another
buyer's row, or from the name column to the e-mail one, fails to open instead of showing the
wrong person's data.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payment_svc.pii_keys import DEV_KEY, DEV_KEY_ID

NONCE_BYTES = 12
FIELDS = ("buyer_email", "buyer_name")


class PiiUnreadable(Exception):
    """A stored value cannot be opened: its key is not configured, or it was altered or moved
    to another row. The message names the checkout and key id, never the value."""


@dataclass(frozen=True)
class SealedPii:
    key_id: str
    buyer_email: str  # base64(nonce | ciphertext)
    buyer_name: str


class PiiCipher:
    """Seals with the active key; opens with any configured key."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError(f"the active PII key {active_key_id} is not configured")
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    def seal(self, checkout_id: str, buyer_email: str, buyer_name: str) -> SealedPii:
        aead = self._aeads[self.active_key_id]
        email, name = (
            _seal(aead, value, _context(checkout_id, column))
            for value, column in zip((buyer_email, buyer_name), FIELDS, strict=True)
        )
        return SealedPii(self.active_key_id, email, name)

    def open(self, checkout_id: str, sealed: SealedPii) -> tuple[str, str]:
        """(e-mail, name) in clear. Raises PiiUnreadable."""
        aead = self._aeads.get(sealed.key_id)
        if aead is None:
            raise PiiUnreadable(
                f"checkout {checkout_id}: PII key {sealed.key_id} is not in PII_KEYS"
            )
        email, name = (
            _open(aead, value, _context(checkout_id, column), checkout_id)
            for value, column in zip((sealed.buyer_email, sealed.buyer_name), FIELDS, strict=True)
        )
        return email, name


def dev_cipher() -> PiiCipher:
    """The embedded dev stack's cipher (a published key: never for real buyers)."""
    return PiiCipher({DEV_KEY_ID: DEV_KEY}, DEV_KEY_ID)


def _context(checkout_id: str, column: str) -> bytes:
    return f"paymesh/payment_events/{checkout_id}/{column}".encode()


def _seal(aead: AESGCM, value: str, context: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + aead.encrypt(nonce, value.encode("utf-8"), context)).decode()


def _open(aead: AESGCM, token: str, context: bytes, checkout_id: str) -> str:
    try:
        raw = base64.b64decode(token, validate=True)
        return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context).decode("utf-8")
    except (InvalidTag, binascii.Error, ValueError):
        raise PiiUnreadable(
            f"checkout {checkout_id}: a PII value does not open (altered, or moved from another"
            " row)"
        ) from None
