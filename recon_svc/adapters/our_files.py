"""paymesh's side from CSV files already written (the benchmark's, a test's)."""

from __future__ import annotations

from pathlib import Path

from recon_svc.domain.period import Period
from recon_svc.service_layer.ports import OurFiles


class OurRecordFiles:
    def __init__(self, files: OurFiles) -> None:
        self._files = files

    def spool(self, period: Period, directory: Path) -> OurFiles:
        return self._files
