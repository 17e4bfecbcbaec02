"""The period a reconciliation covers, and the margin read on either side of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# A charge made at 23:59:59 may settle at 00:00:01: both sides are read a day past each end of
# the period, so such a pair still matches; only rows created inside the period are reported.
DEFAULT_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC. Rows are read from `read_from` to `read_until`; a mismatch belongs to
    the period of the row it is about (the PSP's row, or ours when the PSP has none)."""

    start: datetime
    end: datetime
    margin: timedelta = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's bounds must be timezone-aware (UTC)")
        if self.end <= self.start:
            raise ValueError(f"a period must end after it starts: {self.start} .. {self.end}")

    @classmethod
    def day(cls, day: date, margin: timedelta = DEFAULT_MARGIN) -> Period:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(start, start + timedelta(days=1), margin)

    @property
    def read_from(self) -> datetime:
        return self.start - self.margin

    @property
    def read_until(self) -> datetime:
        return self.end + self.margin

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end
