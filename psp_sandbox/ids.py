"""Stripe-looking object ids."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """An id such as `pi_3f9c...`: the object's prefix and 96 random bits, alphanumeric."""
    return prefix + secrets.token_hex(12)
