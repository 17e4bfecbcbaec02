"""What reconciliation tells the world: a mismatch the finance queue did not know
(`recon.mismatch.opened`, for the marketplace's webhooks). Built from the stored mismatch
without its evidence's people or card facts: ids, type, class, money, the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from recon_svc.domain.queue import StoredMismatch

# Where the money in question is read from, first found wins: the PSP's gross, else our
# order's amount, else our refund's.
_AMOUNT_FACTS = (
    ("psp_gross", "psp_currency"),
    ("order_amount", "order_currency"),
    ("refund_amount", "refund_currency"),
)


@dataclass(frozen=True)
class MismatchOpened:
    mismatch_id: str
    type: str
    detail: str
    mismatch_class: int
    amount: Decimal | None  # None: the mismatch names no money
    currency: str
    run_id: str
    suggested_action: str
    period: date


def mismatch_opened(mismatch: StoredMismatch) -> MismatchOpened:
    """The event of a mismatch stored for the first time (its first run found it)."""
    amount, currency = _money(mismatch.evidence)
    return MismatchOpened(
        mismatch_id=mismatch.mismatch_id,
        type=mismatch.type,
        detail=mismatch.detail,
        mismatch_class=int(mismatch.mismatch_class),
        amount=amount,
        currency=currency,
        run_id=mismatch.first_run_id,
        suggested_action=mismatch.suggested_action,
        period=mismatch.period,
    )


def _money(facts: dict[str, str]) -> tuple[Decimal | None, str]:
    for amount_fact, currency_fact in _AMOUNT_FACTS:
        raw, currency = facts.get(amount_fact, ""), facts.get(currency_fact, "")
        if not raw or not currency:
            continue
        try:
            return Decimal(raw), currency.upper()
        except InvalidOperation:
            continue
    return None, ""
