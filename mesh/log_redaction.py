"""What must never reach a log line, found in the final, serialized line: card numbers (mesh.cards),
e-mail addresses, PSP keys and webhook secrets, paymesh API keys, Authorization header values,
passwords in URLs, and any value a service registers as secret at start (`hide_in_logs`).

It runs over the whole JSON line, after every field, argument and traceback is in it, so no path
into the line (a message argument, an `extra` field, an exception text) can slip past it.
"""

from __future__ import annotations

import re

from mesh.cards import redact_card_numbers

REDACTED = "[REDACTED]"

# Order matters: a URL's password goes first, so that "u:pass@host" is not read as an e-mail.
# Each with a plain substring it cannot match without (tested first: most lines hold none).
_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:[REDACTED]@host
    # (greedy up to the last "@" of the authority: a password may hold an "@" itself)
    (
        "://",
        re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\"']*:)[^\s\"'/]+@"),
        rf"\1{REDACTED}@",
    ),
    # "Authorization: Bearer x", "authorization": "Basic x", Authorization=x
    (
        "authorization",
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?)"
            r"(?:(?:bearer|basic|token)\s+)?[^\s\"'\\,;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    # Stripe secret and restricted keys, webhook signing secrets.
    ("k_", re.compile(r"\b(sk|rk)_(test|live)_[A-Za-z0-9_]+"), rf"\1_\2_{REDACTED}"),
    ("whsec_", re.compile(r"\bwhsec_[A-Za-z0-9_]+"), f"whsec_{REDACTED}"),
    # paymesh API keys pmk_<id>_<secret>: the id names the key, the secret is what to hide.
    ("pmk_", re.compile(r"\bpmk_([0-9a-f]+)_[A-Za-z0-9_-]+"), rf"pmk_\1_{REDACTED}"),
    # E-mail addresses (buyer PII).
    (
        "@",
        re.compile(
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
        ),
        "[REDACTED-EMAIL]",
    ),
)

_registered: set[str] = set()
MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words


def hide_in_logs(*secrets: str) -> None:
    """Redact these exact values (a configured key, a password) from every later log line."""
    _registered.update(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)


def redact_line(line: str) -> str:
    """`line` with every secret and piece of PII this module knows replaced by a marker."""
    for secret in sorted(_registered, key=len, reverse=True):
        if secret in line:
            line = line.replace(secret, REDACTED)
    lowered = line.lower()
    for trigger, pattern, replacement in _PATTERNS:
        if trigger in lowered:
            line = pattern.sub(replacement, line)
            lowered = line.lower()
    return redact_card_numbers(line)
