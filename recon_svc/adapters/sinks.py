"""Sinks for classified mismatches: a list (tests, the benchmark). The service's runs store
theirs in the finance queue (recon_svc.service_layer.runs.QueueSink)."""

from __future__ import annotations

from recon_svc.domain.classes import Classification
from recon_svc.domain.mismatches import Mismatch


class CollectingSink:
    def __init__(self) -> None:
        self.found: list[tuple[Mismatch, Classification]] = []

    def add(self, mismatch: Mismatch, classification: Classification) -> None:
        self.found.append((mismatch, classification))
