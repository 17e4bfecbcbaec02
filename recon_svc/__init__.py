"""Reconciliation: the PSP's balance transactions of a period against paymesh's own records.

So far the engine (issue 11's core): matching, typed mismatches in three classes, a report, and
the adapters that feed it (the PSP's report CSV, PostgreSQL's payment schema through COPY,
DuckDB for the joins). The recon_svc process, its gRPC service and REST routes, the finance
queue and the runs over the sandbox's reports are built on it later.
"""
