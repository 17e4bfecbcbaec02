"""Card numbers must never enter the system nor reach a log.

A card-like number is 13 to 19 digits, optionally grouped by single spaces or
dashes, that passes the Luhn check, and stands alone: a run of digits glued to letters, `_` or
`-` is part of an identifier (a UUID's groups, a token), not a card number.
"""

from __future__ import annotations

import re

_CANDIDATE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
REDACTED = "[REDACTED-PAN]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(m.span())
    return spans


def contains_card_number(text: str) -> bool:
    """True when `text` holds anything that looks like a card number."""
    return bool(_card_spans(text))


def redact_card_numbers(text: str) -> str:
    """`text` with every card-like number replaced by a marker."""
    spans = _card_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)
