"""The PSP's side from the sandbox's daily settlement CSV (GET /_sandbox/reports/settlement),
until the Stripe Reporting API adapter (`stripe_reports`) is the default: the days of the
period and its margin, fetched one by one and written as one file (streamed, never held)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from recon_svc.domain.period import Period


class SandboxSettlementReports:
    """A `PspReportSource`: `(period, directory) -> path of a CSV file`."""

    def __init__(self, api_base: str, api_key: str, timeout_s: float = 60.0) -> None:
        self._base = api_base.rstrip("/")
        self._key = api_key
        self._timeout = timeout_s

    def __call__(self, period: Period, directory: Path) -> Path:
        target = directory / "psp_settlement.csv"
        day = period.read_from.date()
        header_written = False
        with httpx.Client(timeout=self._timeout) as client, target.open("wb") as out:
            while day < period.read_until.date():
                url = f"{self._base}/_sandbox/reports/settlement"
                with client.stream(
                    "GET",
                    url,
                    params={"date": day.isoformat()},
                    headers={"Authorization": f"Bearer {self._key}"},
                ) as answer:
                    answer.raise_for_status()
                    first = True
                    for line in answer.iter_lines():
                        if first:
                            first = False
                            if header_written:
                                continue
                            header_written = True
                        if line:
                            out.write(line.encode() + b"\n")
                day += timedelta(days=1)
        return target
