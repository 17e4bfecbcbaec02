"""The hash chain that makes the ledger tamper-evident (docs/adr/0004-ledger-hash-chains.md).

Every transaction belongs to one of `CHAINS` chains, picked from its id. Its *digest* is the
SHA-256 of a canonical form of what it says (id, the order or refund it is for, description,
posting time, every line); its *hash* is SHA-256(previous hash in its chain || digest), the
first transaction of a chain following `GENESIS`. Changing, removing or adding a line, a
transaction or a link changes every hash from there on.

The SQL adapter applies `link_hash` in the posting statement itself (PostgreSQL's sha256 over
the same bytes), under the lock of the chain's head row, so a posting costs no round trip more;
`paymesh ledger verify` recomputes both with these functions.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

# Enough chains that concurrent postings rarely wait on the same head row (see the ADR);
# the migration creates one head row per chain. Changing it needs a migration adding rows.
CHAINS = 32
# The "previous hash" of a chain's first transaction.
GENESIS = bytes(32)
# Names the canonical form; a new form would need a new tag and verify knowing both.
_FORM = "paymesh.ledger.chain.v1"

# One encoder, built once: json.dumps with options builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# (account, side, amount, currency) of one line; side is "debit" or "credit".
Line = tuple[str, str, Decimal, str]


def canonical_amount(amount: Decimal) -> str:
    """The amount as a plain decimal without trailing zeros: 1.10, 1.1 and NUMERIC's 1.1000
    are all "1.1", 100 and 1E+2 are "100". Independent of any currency table, so a change to
    the table of minor units never changes a hash."""
    if not amount.is_finite():
        raise ValueError(f"amount must be finite, got {amount!r}")
    # Not Decimal.normalize(): it rounds to the context's 28 digits, NUMERIC(38, 4) has 38.
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def canonical_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds, as PostgreSQL's timestamptz keeps it:
    2026-12-02T13:00:00.123456+00:00."""
    if moment.tzinfo is None:
        raise ValueError("posting time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_id(transaction_id: str) -> str:
    """A UUID in the form PostgreSQL gives back (lower case, hyphens); other ids unchanged."""
    if _CANONICAL_UUID.fullmatch(transaction_id):
        return transaction_id  # the usual case, read back from the database: no parsing
    try:
        return str(uuid.UUID(transaction_id))
    except ValueError:
        return transaction_id


def chain_of(transaction_id: str) -> int:
    """The chain a transaction belongs to: spread evenly, known before any I/O."""
    digest = hashlib.sha256(canonical_id(transaction_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % CHAINS


def transaction_digest(
    transaction_id: str,
    payment_order_id: str | None,
    refund_id: str | None,
    description: str,
    posted_at: datetime,
    lines: Iterable[Line],
) -> bytes:
    """SHA-256 of the canonical form: a compact JSON array (UTF-8) of the form tag, the header
    and the lines sorted, so the order entries were stored in does not matter."""
    canonical_lines = sorted(
        [account, side, canonical_amount(amount), currency]
        for account, side, amount, currency in lines
    )
    form = [
        _FORM,
        canonical_id(transaction_id),
        payment_order_id,
        refund_id,
        description,
        canonical_time(posted_at),
        canonical_lines,
    ]
    return hashlib.sha256(_JSON.encode(form).encode()).digest()


def link_hash(previous: bytes, digest: bytes) -> bytes:
    """A transaction's hash: SHA-256(previous hash || its digest). The SQL adapter computes
    the same as `sha256(head.hash || digest)`."""
    return hashlib.sha256(previous + digest).digest()


@dataclass(frozen=True)
class Seal:
    """What a transaction brings to its chain, computed before any I/O."""

    chain: int
    posted_at: datetime
    digest: bytes


def seal(
    transaction_id: str,
    payment_order_id: str | None,
    refund_id: str | None,
    description: str,
    posted_at: datetime,
    lines: Iterable[Line],
) -> Seal:
    return Seal(
        chain=chain_of(transaction_id),
        posted_at=posted_at,
        digest=transaction_digest(
            transaction_id, payment_order_id, refund_id, description, posted_at, lines
        ),
    )
