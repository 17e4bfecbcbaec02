"""Reconciliation's rules: plain dataclasses and pure functions, no I/O."""
