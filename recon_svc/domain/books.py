"""Reconciliation against paymesh's own books: the ledger's completeness against the PSP's
report (both ways), and the comparisons inside paymesh (wallet buckets against ledger
accounts, SUCCESS orders against their ledger transaction and wallet credit, the ledger's zero
sum, the clearing account netting to zero after its settlement delay). Pure: the adapters hand
over rows, these rules say which are mismatches.

The PSP's side accounts of the ledger are `psp_receivable` (what the PSP holds for the
platform: the clearing account), `psp_fees` and `platform_cash` (booked from the report,
ledger_svc.domain.psp_books). Seller payouts also credit `psp_receivable`; they are compared
with the payout provider (paymesh check's payout invariants), not with the PSP's report.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from recon_svc.domain.mismatches import Detail, Mismatch, MismatchType
from recon_svc.domain.records import PspTransaction

# What a ledger transaction on a PSP account is, as the ledger spool names it.
LEDGER_KINDS = {
    "charge": Detail.LEDGER_CHARGE,
    "refund": Detail.LEDGER_REFUND,
    "fee": Detail.LEDGER_FEE,
    "payout": Detail.LEDGER_PAYOUT,
    # The finance queue's bookings of a duplicate charge given back (keyed by the PSP's ids).
    "duplicate_charge": Detail.LEDGER_CHARGE,
    "duplicate_refund": Detail.LEDGER_REFUND,
}


class GapKind(enum.Enum):
    """What the ledger matcher found about a ledger posting or a PSP row."""

    LEDGER_ALONE = "ledger_alone"  # a ledger posting on a PSP account, no PSP transaction
    PSP_ALONE = "psp_alone"  # a PSP fee or payout the ledger has no booking of
    DIFFERS = "differs"  # both, with different amounts


@dataclass(frozen=True, slots=True)
class LedgerGap:
    """A candidate from the ledger matcher. `kind_of_posting` is charge, refund, fee or payout;
    `key` the id the two sides share (order id, refund id, the PSP's balance transaction id);
    `booked` the ledger's amount (positive), None when the ledger has nothing."""

    gap: GapKind
    kind_of_posting: str
    key: str
    transaction_id: str = ""
    booked: Decimal | None = None
    currency: str = ""
    posted_at: datetime | None = None
    psp: PspTransaction | None = None


def ledger_gap_mismatch(gap: LedgerGap) -> Mismatch:
    """The mismatch a ledger-completeness candidate is."""
    detail = LEDGER_KINDS[gap.kind_of_posting]
    facts: list[tuple[str, str]] = [("ledger_kind", gap.kind_of_posting), ("ledger_key", gap.key)]
    if gap.transaction_id:
        facts.append(("ledger_transaction_id", gap.transaction_id))
    if gap.booked is not None:
        facts += [("ledger_amount", str(gap.booked)), ("ledger_currency", gap.currency)]
    if gap.posted_at is not None:
        facts.append(("ledger_posted_at", gap.posted_at.isoformat()))
    if gap.gap is GapKind.LEDGER_ALONE:
        return Mismatch(
            MismatchType.LEDGER_WITHOUT_PSP, detail, subject=gap.transaction_id, facts=tuple(facts)
        )
    if gap.gap is GapKind.PSP_ALONE:
        return Mismatch(MismatchType.MISSING_IN_LEDGER, detail, psp=gap.psp, facts=tuple(facts))
    if detail is Detail.LEDGER_FEE:
        return Mismatch(MismatchType.FEE, Detail.FEE_BOOKED, psp=gap.psp, facts=tuple(facts))
    return Mismatch(MismatchType.AMOUNT, Detail.PAYOUT_BOOKED, psp=gap.psp, facts=tuple(facts))


# --- inside paymesh ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketBalance:
    """A seller's wallet bucket and its ledger account's balance (on its normal side)."""

    seller_account: str
    currency: str
    bucket: str
    wallet: Decimal
    ledger: Decimal

    @property
    def subject(self) -> str:
        return f"{self.seller_account}/{self.currency}/{self.bucket}"


def wallet_ledger_mismatches(
    first: Iterable[BucketBalance], second: Iterable[BucketBalance]
) -> list[Mismatch]:
    """The buckets that differ from their ledger account in both reads, with the same figures.

    Wallet and ledger follow the same events through two consumers, so a bucket may differ for
    a moment while one has handled an event the other has not yet; a difference that holds,
    unchanged, over two reads taken a few seconds apart is a real one."""
    seen = {b.subject: b for b in first if b.wallet != b.ledger}
    found = []
    for again in second:
        before = seen.get(again.subject)
        if before is not None and before == again:
            found.append(
                Mismatch(
                    MismatchType.INTERNAL,
                    Detail.WALLET_LEDGER,
                    subject=again.subject,
                    facts=(
                        ("seller_account", again.seller_account),
                        ("currency", again.currency),
                        ("bucket", again.bucket),
                        ("wallet_amount", str(again.wallet)),
                        ("ledger_amount", str(again.ledger)),
                        ("difference", str(again.wallet - again.ledger)),
                    ),
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class OrderBooks:
    """A SUCCESS order of the period whose ledger transactions (`what` = "ledger") or wallet
    credits (`what` = "wallet") are not exactly one of the expected amount. `flagged`: the
    order's flag says that side has booked it (ledger_updated / wallet_updated)."""

    payment_order_id: str
    status: str
    what: str
    count: int
    amount: Decimal
    expected: Decimal
    currency: str
    flagged: bool


def order_books_mismatch(row: OrderBooks) -> Mismatch:
    detail = Detail.ORDER_LEDGER if row.what == "ledger" else Detail.ORDER_WALLET
    return Mismatch(
        MismatchType.INTERNAL,
        detail,
        subject=row.payment_order_id,
        facts=(
            ("payment_order_id", row.payment_order_id),
            ("order_status", row.status),
            (f"{row.what}_count", str(row.count)),
            (f"{row.what}_amount", str(row.amount)),
            ("expected_amount", str(row.expected)),
            ("currency", row.currency),
            (f"{row.what}_updated", "true" if row.flagged else "false"),
        ),
    )


def never_booked(mismatch: Mismatch) -> bool:
    """An ORDER_LEDGER/ORDER_WALLET mismatch where that side has no booking at all and the
    order's flag says it is still waiting for it (its success event never arrived)."""
    facts = dict(mismatch.facts)
    what = "ledger" if mismatch.detail is Detail.ORDER_LEDGER else "wallet"
    return facts.get(f"{what}_count") == "0" and facts.get(f"{what}_updated") == "false"


def zero_sum_mismatch(
    currency: str, debits: Decimal, credits: Decimal, transaction_id: str = ""
) -> Mismatch:
    """Debits and credits differ, over the ledger in `currency` or in one transaction."""
    subject = f"{transaction_id or 'ledger'}/{currency}"
    facts = [("currency", currency), ("debits", str(debits)), ("credits", str(credits))]
    if transaction_id:
        facts.append(("ledger_transaction_id", transaction_id))
    return Mismatch(
        MismatchType.INTERNAL, Detail.LEDGER_ZERO_SUM, subject=subject, facts=tuple(facts)
    )


@dataclass(frozen=True, slots=True)
class ClearingBalance:
    """A clearing account's balance in one currency, and what came in on it during the last
    settlement delay (debits for the asset `psp_receivable`)."""

    account: str
    currency: str
    balance: Decimal
    recent_inflows: Decimal


def clearing_mismatch(row: ClearingBalance, delay: timedelta, period: str) -> Mismatch | None:
    """A clearing account must be back at zero once its settlement delay has passed: what it
    still holds can only be what came in during the last `delay` (the PSP pays out the oldest
    money first). More than that is money the PSP should have paid out and has not (or the
    platform has not booked); below zero, more was booked out than ever came in. Known per
    `period` (the run's day): each day's figure is a finding of its own."""
    held_too_long = row.balance - max(row.recent_inflows, Decimal(0))
    if row.balance >= 0 and held_too_long <= 0:
        return None
    return Mismatch(
        MismatchType.INTERNAL,
        Detail.CLEARING,
        subject=f"{row.account}/{row.currency}/{period}",
        facts=(
            ("account", row.account),
            ("currency", row.currency),
            ("balance", str(row.balance)),
            ("recent_inflows", str(row.recent_inflows)),
            ("settlement_delay_s", str(int(delay.total_seconds()))),
            ("not_cleared", str(row.balance if row.balance < 0 else held_too_long)),
        ),
    )
