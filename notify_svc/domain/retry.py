"""When a failed delivery is tried again."""

from __future__ import annotations

from dataclasses import dataclass

# Seconds to wait after the 1st, 2nd... failed attempt: about three days in all (2.98 d), the
# shape Standard Webhooks suggests (quick retries first, then hours apart).
DEFAULT_SCHEDULE_S: tuple[float, ...] = (
    5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 14400,
)  # fmt: skip


@dataclass(frozen=True)
class RetrySchedule:
    delays_s: tuple[float, ...] = DEFAULT_SCHEDULE_S

    def delay_after(self, failures: int) -> float | None:
        """How long to wait after the `failures`-th failed attempt in a row; None when the
        schedule is exhausted (the delivery has failed for good, until redelivered by hand)."""
        if 1 <= failures <= len(self.delays_s):
            return self.delays_s[failures - 1]
        return None

    @property
    def total_s(self) -> float:
        return sum(self.delays_s)
