"""What a reconciliation reports: rows read and matched, mismatches by type and class, totals
compared per currency, fees the PSP took that paymesh has not booked, and how long it took."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from recon_svc.domain.classes import Classification
from recon_svc.domain.mismatches import Mismatch


@dataclass(frozen=True)
class CurrencyTotals:
    """Charges minus refunds in the period, ours (SUCCESS orders, SUCCEEDED refunds) and the
    PSP's (gross of its charges and refunds)."""

    ours: Decimal
    theirs: Decimal

    @property
    def difference(self) -> Decimal:
        return self.theirs - self.ours


@dataclass(frozen=True)
class MatchSummary:
    """The matcher's counts over the whole period (the rows it read, not only the candidates)."""

    psp_rows: int
    order_rows: int
    refund_rows: int
    matched: dict[str, int]  # per match rule, charges and refunds together
    not_compared: dict[str, int]  # PSP rows of categories compared elsewhere (payouts)
    totals: dict[str, CurrencyTotals]
    fees_to_book: dict[str, Decimal]  # per currency: PSP fees of matched charges not booked


@dataclass
class ReconReport:
    summary: MatchSummary | None = None
    by_type: Counter[str] = field(default_factory=Counter)
    by_class: Counter[int] = field(default_factory=Counter)
    fixes: Counter[str] = field(default_factory=Counter)  # class 1, per fix rule
    duration_s: float = 0.0

    def count(self, mismatch: Mismatch, classification: Classification) -> None:
        self.by_type[mismatch.type.value] += 1
        self.by_class[int(classification.mismatch_class)] += 1
        if classification.rule.value:
            self.fixes[classification.rule.value] += 1

    @property
    def mismatches(self) -> int:
        return sum(self.by_type.values())

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready values (money as decimal strings)."""
        out: dict[str, object] = {
            "mismatches": self.mismatches,
            "by_type": dict(sorted(self.by_type.items())),
            "by_class": {str(k): v for k, v in sorted(self.by_class.items())},
            "fixes": dict(sorted(self.fixes.items())),
            "duration_s": round(self.duration_s, 3),
        }
        if self.summary is not None:
            s = self.summary
            out.update(
                psp_rows=s.psp_rows,
                order_rows=s.order_rows,
                refund_rows=s.refund_rows,
                matched=dict(sorted(s.matched.items())),
                not_compared=dict(sorted(s.not_compared.items())),
                totals={
                    currency: {
                        "ours": str(t.ours),
                        "theirs": str(t.theirs),
                        "difference": str(t.difference),
                    }
                    for currency, t in sorted(s.totals.items())
                },
                fees_to_book={c: str(v) for c, v in sorted(s.fees_to_book.items())},
            )
        return out
