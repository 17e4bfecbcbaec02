"""Walking the ledger's hash chains as stored, to find the first broken link of each.

Fed the stored transactions of every chain in sequence order (chains one after the other, or
interleaved: each keeps its own state) and then the head rows, `ChainWalker` recomputes every
hash from `GENESIS` and names, per chain, the first link that does not hold.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from ledger_svc.domain.chain import CHAINS, GENESIS, link_hash


class BreakKind(enum.Enum):
    # The stored hash is not SHA-256(previous || digest): a line or the header was changed, or
    # the link before it was.
    HASH_MISMATCH = "hash_mismatch"
    # A sequence number is skipped: a transaction was removed from the chain.
    MISSING_LINK = "missing_link"
    # A sequence number comes twice (or goes back): a transaction was added into the chain.
    EXTRA_LINK = "extra_link"
    # The chain ends elsewhere than its head row says: its last transactions were removed, or
    # the head row was changed.
    HEAD_MISMATCH = "head_mismatch"
    # A transaction names a chain that has no head row, or a head row is missing.
    UNKNOWN_CHAIN = "unknown_chain"


@dataclass(frozen=True)
class StoredLink:
    """One transaction as read back: its place, its recomputed digest and its stored hash."""

    chain: int
    seq: int
    transaction_id: str
    digest: bytes
    stored_hash: bytes
    posted_at: datetime | None = None


@dataclass(frozen=True)
class BrokenLink:
    chain: int
    kind: BreakKind
    seq: int | None
    transaction_id: str | None
    expected_hash: str  # hex
    stored_hash: str  # hex
    detail: str
    posted_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "chain": self.chain,
            "kind": self.kind.value,
            "seq": self.seq,
            "transaction_id": self.transaction_id,
            "expected_hash": self.expected_hash,
            "stored_hash": self.stored_hash,
            "detail": self.detail,
            "posted_at": self.posted_at.isoformat() if self.posted_at else None,
        }


@dataclass
class _ChainState:
    seq: int = 0
    hash: bytes = GENESIS


@dataclass
class ChainWalker:
    """Recomputes the chains; `breaks()` after `finish()` lists each broken chain's first
    broken link, earliest posting first."""

    chains: int = CHAINS
    transactions: int = 0
    _state: dict[int, _ChainState] = field(default_factory=dict)
    _broken: dict[int, BrokenLink] = field(default_factory=dict)

    def add(self, link: StoredLink) -> None:
        self.transactions += 1
        if link.chain in self._broken:
            return  # only the first break of a chain is named; what follows is suspect anyway
        if not 0 <= link.chain < self.chains:
            self._break(link, BreakKind.UNKNOWN_CHAIN, b"", f"chain {link.chain} does not exist")
            return
        state = self._state.setdefault(link.chain, _ChainState())
        expected = link_hash(state.hash, link.digest)
        if link.seq != state.seq + 1:
            kind = BreakKind.MISSING_LINK if link.seq > state.seq + 1 else BreakKind.EXTRA_LINK
            self._break(
                link,
                kind,
                expected,
                f"expected link {state.seq + 1} after {state.seq}, found {link.seq}",
            )
            return
        if link.stored_hash != expected:
            self._break(
                link,
                BreakKind.HASH_MISMATCH,
                expected,
                "the stored hash is not that of this transaction after the previous link",
            )
            return
        state.seq, state.hash = link.seq, expected

    def finish(self, heads: dict[int, tuple[int, bytes]]) -> None:
        """Compare where each chain ends with its head row (seq, hash)."""
        for chain in sorted(set(range(self.chains)) | set(heads)):
            if chain in self._broken:
                continue
            state = self._state.get(chain, _ChainState())
            head = heads.get(chain)
            if head is None or chain >= self.chains:
                self._broken[chain] = BrokenLink(
                    chain,
                    BreakKind.UNKNOWN_CHAIN,
                    None,
                    None,
                    state.hash.hex(),
                    "",
                    "no head row for this chain" if head is None else "head row of no chain",
                )
                continue
            seq, stored = head
            if (seq, stored) != (state.seq, state.hash):
                self._broken[chain] = BrokenLink(
                    chain,
                    BreakKind.HEAD_MISMATCH,
                    seq,
                    None,
                    state.hash.hex(),
                    stored.hex(),
                    f"the chain ends at link {state.seq}, its head row says {seq}",
                )

    def breaks(self) -> list[BrokenLink]:
        return sorted(
            self._broken.values(),
            key=lambda b: (b.posted_at is None, b.posted_at or datetime.min, b.chain),
        )

    def root(self) -> str:
        """One hex digest over every chain's recomputed end: write it down to show later that
        the ledger up to now is unchanged."""
        h = hashlib.sha256()
        for chain in range(self.chains):
            state = self._state.get(chain, _ChainState())
            h.update(chain.to_bytes(4, "big") + state.seq.to_bytes(8, "big") + state.hash)
        return h.hexdigest()

    def heads(self) -> dict[int, tuple[int, str]]:
        """Each chain's recomputed end (seq, hash hex), as far as it held."""
        return {
            chain: (s.seq, s.hash.hex())
            for chain, s in sorted(self._state.items())
            if chain not in self._broken
        }

    def _break(self, link: StoredLink, kind: BreakKind, expected: bytes, detail: str) -> None:
        self._broken[link.chain] = BrokenLink(
            link.chain,
            kind,
            link.seq,
            link.transaction_id,
            expected.hex(),
            link.stored_hash.hex(),
            detail,
            link.posted_at,
        )
