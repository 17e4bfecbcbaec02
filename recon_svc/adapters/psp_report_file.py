"""The PSP's side from a report file already downloaded (the sandbox's settlement CSV, a
Stripe `balance_change_from_activity.itemized` report run's file)."""

from __future__ import annotations

from pathlib import Path

from recon_svc.domain.period import Period


class PspReportFile:
    """A report file on disk, used where it lies (it covers the period and its margin)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def spool(self, period: Period, directory: Path) -> Path:
        return self._path
