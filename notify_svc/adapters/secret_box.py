"""Endpoint signing secrets encrypted at rest (AES-256-GCM from `cryptography`), bound to their
endpoint id (associated data), so a secret copied onto another endpoint's row does not open."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "aesgcm:v1:"
NONCE_BYTES = 12


class SecretBoxError(ValueError):
    """A stored secret that cannot be opened with this key (wrong key, or tampered)."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, secret: str, endpoint_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), endpoint_id.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, endpoint_id: str) -> str:
        if not stored.startswith(PREFIX):
            raise SecretBoxError(f"endpoint {endpoint_id}: secret not sealed by this service")
        raw = base64.b64decode(stored[len(PREFIX) :])
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], endpoint_id.encode())
        except InvalidTag:
            raise SecretBoxError(
                f"endpoint {endpoint_id}: secret does not open with NOTIFY_SECRET_KEY"
            ) from None
        return plain.decode()
