"""Sinks for classified mismatches: a list (tests, small runs). The finance queue and the
fixer are sinks to come, with recon_svc's own schema."""

from __future__ import annotations

from recon_svc.domain.classes import Classification
from recon_svc.domain.mismatches import Mismatch


class CollectingSink:
    def __init__(self) -> None:
        self.found: list[tuple[Mismatch, Classification]] = []

    def add(self, mismatch: Mismatch, classification: Classification) -> None:
        self.found.append((mismatch, classification))
