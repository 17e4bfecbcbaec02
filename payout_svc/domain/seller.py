"""A seller as the payout service knows it: where its payouts go and when."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

DESTINATION = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


class Schedule(enum.Enum):
    MANUAL = "manual"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class InvalidSettings(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


@dataclass(frozen=True)
class Seller:
    """`destination`: the provider's account reference (a Stripe connected account `acct_…`),
    empty until set; `weekday` (0 = Monday) for weekly schedules, `day_of_month` (1 to 28) for
    monthly ones; `minimums`: the smallest payout per currency a scheduled run makes."""

    seller_account: str
    destination: str = ""
    schedule: Schedule = Schedule.MANUAL
    weekday: int = 0
    day_of_month: int = 1
    minimums: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.destination and not DESTINATION.match(self.destination):
            raise InvalidSettings("destination", "destination must be a provider account acct_…")
        if not 0 <= self.weekday <= 6:
            raise InvalidSettings("weekday", "weekday must be 0 (Monday) to 6 (Sunday)")
        if not 1 <= self.day_of_month <= 28:
            raise InvalidSettings("day_of_month", "day_of_month must be 1 to 28")
        for currency, minimum in self.minimums.items():
            if minimum < 0:
                raise InvalidSettings(f"minimums[{currency}]", "a minimum cannot be negative")

    def due_on(self, day: date) -> str | None:
        """The period a scheduled run on `day` pays for (its idempotency key part), or None when
        the schedule is not due that day."""
        if self.schedule is Schedule.DAILY:
            return day.isoformat()
        if self.schedule is Schedule.WEEKLY and day.weekday() == self.weekday:
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.schedule is Schedule.MONTHLY and day.day == self.day_of_month:
            return f"{day.year}-{day.month:02d}"
        return None
