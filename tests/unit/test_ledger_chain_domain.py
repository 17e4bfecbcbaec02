"""The ledger's hash chain: the canonical form a transaction's digest covers, the link hash,
the walk that finds the first broken link of each chain, and postings through the use case
chaining up in the fake."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ledger_svc.domain import (
    CHAINS,
    GENESIS,
    BreakKind,
    ChainWalker,
    Posting,
    Side,
    StoredLink,
    Transaction,
    chain_of,
    link_hash,
    transaction_digest,
)
from ledger_svc.domain.chain import canonical_amount, canonical_time
from ledger_svc.service_layer.fakes import FakeLedgerStore
from ledger_svc.service_layer.use_cases import PostPaymentOrder, post_payment_order
from mesh.money import Money

D = Decimal
AT = datetime(2026, 12, 2, 13, 0, 0, 123456, tzinfo=UTC)
TX = "6f1c2a36-1d7e-4a57-9b0e-3f8a2d9c4e11"
LINES = [
    ("psp_receivable", "debit", D("10.10"), "USD"),
    ("seller_payable:s", "credit", D("10.1"), "USD"),
]


def digest(**changes: object) -> bytes:
    args: dict[str, object] = {
        "transaction_id": TX,
        "payment_order_id": "po-1",
        "refund_id": None,
        "description": "payment order po-1",
        "posted_at": AT,
        "lines": LINES,
    }
    args.update(changes)
    return transaction_digest(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "form"),
    [
        ("1.10", "1.1"),
        ("1.1", "1.1"),
        ("1.1000", "1.1"),  # what NUMERIC(38, 4) gives back
        ("100", "100"),
        ("100.0000", "100"),
        ("1E+2", "100"),
        ("0.0500", "0.05"),
        ("123456789012345678901234567890.1234", "123456789012345678901234567890.1234"),
    ],
)
def test_an_amount_has_one_canonical_form_whatever_its_trailing_zeros(
    amount: str, form: str
) -> None:
    assert canonical_amount(D(amount)) == form


def test_the_digest_is_the_same_for_what_was_posted_and_what_the_database_gives_back() -> None:
    stored = [
        ("seller_payable:s", "credit", D("10.1000"), "USD"),  # another order, trailing zeros
        ("psp_receivable", "debit", D("10.1000"), "USD"),
    ]
    as_uuid_upper = TX.upper()
    in_another_zone = AT.astimezone(timezone(timedelta(hours=-5)))
    assert digest() == digest(lines=stored, transaction_id=as_uuid_upper, posted_at=in_another_zone)


@pytest.mark.parametrize(
    "change",
    [
        {"lines": [LINES[0], ("seller_payable:s", "credit", D("10.11"), "USD")]},
        {"lines": [LINES[0], ("seller_payable:mallory", "credit", D("10.1"), "USD")]},
        {"lines": [LINES[0], ("seller_payable:s", "debit", D("10.1"), "USD")]},
        {"lines": [LINES[0], ("seller_payable:s", "credit", D("10.1"), "EUR")]},
        {"lines": LINES[:1]},
        {"lines": [*LINES, LINES[1]]},
        {"transaction_id": "6f1c2a36-1d7e-4a57-9b0e-3f8a2d9c4e12"},
        {"payment_order_id": "po-2"},
        {"payment_order_id": None, "refund_id": "po-1"},
        {"description": "payment order po-1 "},
        {"posted_at": AT + timedelta(microseconds=1)},
    ],
)
def test_every_fact_of_a_transaction_is_covered(change: dict[str, object]) -> None:
    assert digest(**change) != digest()


def test_time_must_carry_its_zone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        canonical_time(datetime(2026, 1, 1))
    assert canonical_time(AT) == "2026-12-02T13:00:00.123456+00:00"


def test_a_link_hash_is_sha256_of_the_previous_hash_and_the_digest() -> None:
    # The SQL adapter computes sha256(head.hash || digest): the same bytes.
    d = digest()
    assert link_hash(GENESIS, d) == hashlib.sha256(bytes(32) + d).digest()
    assert link_hash(link_hash(GENESIS, d), d) != link_hash(GENESIS, d)


def test_chains_are_spread_and_stable() -> None:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(3200)]
    counts = [0] * CHAINS
    for tid in ids:
        counts[chain_of(tid)] += 1
    assert min(counts) > 50  # 100 expected per chain
    assert chain_of(TX) == chain_of(TX.upper())


def test_a_transaction_seals_its_postings() -> None:
    txn = Transaction(
        TX,
        "payment order po-1",
        (
            Posting("psp_receivable", Side.DEBIT, D("10.10"), "USD"),
            Posting("seller_payable:s", Side.CREDIT, D("10.10"), "USD"),
        ),
        payment_order_id="po-1",
    )
    seal = txn.seal(AT)
    assert (seal.chain, seal.posted_at, seal.digest) == (chain_of(TX), AT, digest())


# --- the walk ------------------------------------------------------------------------------


def chain_of_links(chain: int, n: int) -> list[StoredLink]:
    links, previous = [], GENESIS
    for seq in range(1, n + 1):
        d = digest(payment_order_id=f"po-{chain}-{seq}")
        previous = link_hash(previous, d)
        links.append(StoredLink(chain, seq, f"tx-{chain}-{seq}", d, previous, AT))
    return links


def walk(links: list[StoredLink], heads: dict[int, tuple[int, bytes]] | None = None):
    walker = ChainWalker(chains=3)
    for link in links:
        walker.add(link)
    if heads is None:
        heads = {c: (0, GENESIS) for c in range(3)}
        for link in links:
            heads[link.chain] = (link.seq, link.stored_hash)
    walker.finish(heads)
    return walker


def test_intact_chains_have_no_break_and_a_root() -> None:
    links = chain_of_links(0, 4) + chain_of_links(2, 2)
    walker = walk(links)
    assert walker.breaks() == []
    assert walker.transactions == 6
    assert walker.root() == walk(list(links)).root()
    assert walker.root() != walk(chain_of_links(0, 4)).root()


def test_a_changed_digest_names_that_link_and_both_hashes() -> None:
    links = chain_of_links(0, 4)
    bad = links[1]
    links[1] = StoredLink(0, 2, bad.transaction_id, digest(description="x"), bad.stored_hash)
    [broken] = walk(links).breaks()
    assert (broken.chain, broken.seq, broken.transaction_id) == (0, 2, "tx-0-2")
    assert broken.kind is BreakKind.HASH_MISMATCH
    assert broken.stored_hash == bad.stored_hash.hex()
    assert broken.expected_hash == link_hash(links[0].stored_hash, digest(description="x")).hex()


def test_a_missing_link_names_the_one_after_the_gap() -> None:
    links = chain_of_links(1, 4)
    del links[1]
    [broken] = walk(links).breaks()
    assert (broken.kind, broken.seq, broken.transaction_id) == (
        BreakKind.MISSING_LINK,
        3,
        "tx-1-3",
    )


def test_a_link_twice_is_an_extra_link() -> None:
    links = chain_of_links(1, 3)
    links.insert(2, links[1])
    [broken] = walk(
        links, heads={0: (0, GENESIS), 1: (3, links[-1].stored_hash), 2: (0, GENESIS)}
    ).breaks()
    assert broken.kind is BreakKind.EXTRA_LINK


def test_a_removed_tail_leaves_the_head_ahead() -> None:
    links = chain_of_links(0, 3)
    heads = {0: (3, links[-1].stored_hash), 1: (0, GENESIS), 2: (0, GENESIS)}
    [broken] = walk(links[:2], heads).breaks()
    assert (broken.kind, broken.chain, broken.transaction_id) == (BreakKind.HEAD_MISMATCH, 0, None)


def test_a_missing_head_row_or_an_unknown_chain_is_a_break() -> None:
    links = chain_of_links(0, 1)
    assert [
        b.kind for b in walk(links, heads={0: (1, links[0].stored_hash), 1: (0, GENESIS)}).breaks()
    ] == [BreakKind.UNKNOWN_CHAIN]
    stray = chain_of_links(7, 1)
    assert BreakKind.UNKNOWN_CHAIN in [b.kind for b in walk(stray).breaks()]


def test_breaks_come_earliest_posting_first() -> None:
    early, late = chain_of_links(0, 2), chain_of_links(1, 2)
    early[1] = StoredLink(0, 2, "tx-0-2", digest(description="x"), early[1].stored_hash, AT)
    late[0] = StoredLink(
        1, 1, "tx-1-1", digest(description="y"), late[0].stored_hash, AT + timedelta(1)
    )
    assert [b.chain for b in walk(late + early).breaks()] == [0, 1]


# --- through the use case ------------------------------------------------------------------


async def test_postings_through_the_use_case_walk_clean() -> None:
    store = FakeLedgerStore()
    for i in range(40):
        cmd = PostPaymentOrder(
            f"00000000-0000-4000-8000-{i:012d}",
            f"po-{i}",
            "seller-1",
            Money(D("10.00"), "USD"),
            Money(D("1.00"), "USD"),
        )
        await post_payment_order(store.uow(), cmd, clock=lambda: AT)
    walker = ChainWalker()
    links = sorted(store.state.links.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    for tid, (chain, seq, hash_, seal) in links:
        txn = store.state.transactions[tid]
        d = transaction_digest(
            tid,
            txn.payment_order_id,
            txn.refund_id,
            txn.description,
            seal.posted_at,
            [(p.account, p.side.value, p.amount, p.currency) for p in txn.postings],
        )
        walker.add(StoredLink(chain, seq, tid, d, hash_))
    walker.finish({c: store.state.heads.get(c, (0, GENESIS)) for c in range(CHAINS)})
    assert walker.breaks() == []
    assert walker.transactions == 40
