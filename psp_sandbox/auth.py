"""Secret-key authentication, answered the way Stripe answers it."""

from __future__ import annotations

import base64
import binascii

from psp_sandbox.errors import invalid_request


def authenticate(authorization: str | None, key_prefix: str) -> str:
    """The API key from a Bearer (or curl-style Basic) Authorization header; 401 otherwise."""
    key = _key_from_header(authorization or "")
    if not key:
        raise invalid_request(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            status=401,
        )
    if not key.startswith(key_prefix) or len(key) == len(key_prefix):
        raise invalid_request(f"Invalid API Key provided: {_masked(key)}", status=401)
    return key


def _key_from_header(header: str) -> str:
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""


def _masked(key: str) -> str:
    # Never echo a whole secret back: a key pasted into the wrong place may be a live one.
    return key[: min(8, len(key) // 2)] + "*" * 8 + key[-4:] if len(key) > 12 else "*" * 8
