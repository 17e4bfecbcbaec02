"""Reconciliation: the PSP's balance transactions of a period against paymesh's own records.

The engine (matching, typed mismatches in three classes, a report; ADR 0014) and the service
on it (runs, fixes through the payment service, the finance queue; ADR 0018).
"""
