"""A reconciliation run: one period, one source, its status and its report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

DEFAULT_SOURCE = "psp"


class RunStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass
class Run:
    """`report` is `ReconReport.as_dict()` plus the run's own counts (new mismatches, fixes
    done), JSON-ready; `progress` counts the candidates looked at so far, for a progress bar."""

    run_id: str
    period: date
    source: str
    status: RunStatus
    started_by: str
    started_at: datetime
    finished_at: datetime | None = None
    report: dict[str, object] = field(default_factory=dict)
    error: str = ""
    progress: int = 0

    @property
    def finished(self) -> bool:
        return self.status is not RunStatus.RUNNING
