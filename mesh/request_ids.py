"""The request id: one per request the gateway answers (its `Request-Id` header), carried to the
services as the gRPC metadata `x-request-id`, and written on every log line of the work done for
that request (mesh.logs), so one grep finds a request's whole story."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

from mesh.cards import contains_card_number

HEADER = "Request-Id"
# Also taken from a client or proxy that sends the older name.
ALT_HEADER = "X-Request-Id"
METADATA = "x-request-id"

# "" outside a request (consumers, sweepers): their log lines carry an empty request_id.
current_request_id: ContextVar[str] = ContextVar("paymesh_request_id", default="")

_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


def sane_request_id(value: str | None) -> str | None:
    """`value` when it is fit to echo in a header and write in logs: 1 to 128 characters of
    letters, digits and `._:+=/-`, and nothing that looks like a card number; else None."""
    if not value:
        return None
    value = value.strip()
    if not _SANE.fullmatch(value) or contains_card_number(value):
        return None
    return value


# The version (4) and variant (RFC 4122) bits of a random UUID, as uuid.UUID sets them.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (4 << 76) | (0x8000 << 48)


def new_request_id() -> str:
    """A random (version 4) UUID. From `random`, not the OS's entropy, and formatted here
    (`str(uuid.uuid4())` costs about 8 µs, most of a request's bookkeeping): a request id names
    a request, it guards nothing."""
    h = f"{random.getrandbits(128) & _CLEAR | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
