"""The use case: reconcile one period, streaming classified mismatches to a sink."""

from __future__ import annotations

import time
from pathlib import Path

from recon_svc.domain.classes import classify
from recon_svc.domain.mismatches import find_mismatches
from recon_svc.domain.period import Period
from recon_svc.domain.report import ReconReport
from recon_svc.service_layer.ports import Matcher, MismatchSink, OurRecords, PspTransactions


def reconcile(
    period: Period,
    psp: PspTransactions,
    ours: OurRecords,
    matcher: Matcher,
    sink: MismatchSink,
    scratch: Path,
) -> ReconReport:
    """Spool both sides of `period` into `scratch`, match them, type and classify every
    mismatch and hand each to `sink` as it is found; return the report. Synchronous and
    CPU-bound: an async caller runs it in a worker thread."""
    began = time.perf_counter()
    report = ReconReport()
    psp_report = psp.spool(period, scratch)
    our_files = ours.spool(period, scratch)
    with matcher.open(period, psp_report, our_files, scratch) as session:
        for candidate in session.candidates():
            for mismatch in find_mismatches(candidate):
                classification = classify(mismatch)
                report.count(mismatch, classification)
                sink.add(mismatch, classification)
        report.summary = session.summary()
    report.duration_s = time.perf_counter() - began
    return report
