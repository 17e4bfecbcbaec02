"""Opaque page tokens for keyset pagination over entry ids."""

from __future__ import annotations

import base64
import binascii

from mesh.errors import FieldViolation, invalid_argument

_PREFIX = "entry:"


def encode_page_token(last_entry_id: int) -> str:
    raw = f"{_PREFIX}{last_entry_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> int:
    """The entry id a token continues after; INVALID_ARGUMENT for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith(_PREFIX):
            raise ValueError(raw)
        digits = raw[len(_PREFIX) :]
        if not digits.isdigit() or not digits.isascii():
            raise ValueError(raw)
        entry_id = int(digits)
        if entry_id <= 0:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_argument(
            [
                FieldViolation(
                    "page_token",
                    "page_token.valid",
                    "is not a token from a previous ListEntries page",
                )
            ]
        ) from None
    return entry_id
