"""Reconciliation's use cases, talking to ports (psp report, our records, matcher, sink)."""
