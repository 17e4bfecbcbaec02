"""Additions to maintained total rows (a seller's pending balance, a ledger account's debits and
credits), summed per row within a transaction and written with one statement at its COMMIT.

Adding is commutative: a batch of a hundred events that each add to `psp_receivable` writes
that row once, with the sum, instead of a hundred times; and every transaction writes its rows
in one order (`SummedUpsert.order`), so two transactions never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mesh.at_commit import Statement

Key = tuple[Hashable, ...]


def _as_is(key: Key) -> Any:
    return key


@dataclass(frozen=True, eq=False)
class SummedUpsert:
    """An upsert that adds amounts to the rows named by a key. `sql` takes one array parameter
    per name of `keys` and of `amounts` (psycopg placeholders: it rides with the COMMIT, see
    mesh.at_commit) and must write the rows in the order of the arrays; `order` gives that
    order (the sort key of a row's key)."""

    sql: str
    keys: tuple[str, ...]
    amounts: tuple[str, ...]
    order: Callable[[Key], Any] = _as_is


@dataclass
class SummedRows:
    """The additions of one transaction, per upsert and row."""

    _sums: dict[SummedUpsert, dict[Key, list[Decimal]]] = field(default_factory=dict)

    def add(self, upsert: SummedUpsert, key: Key, amounts: tuple[Decimal, ...]) -> None:
        rows = self._sums.setdefault(upsert, {})
        total = rows.get(key)
        if total is None:
            rows[key] = list(amounts)
        else:
            for i, amount in enumerate(amounts):
                total[i] += amount

    def __bool__(self) -> bool:
        return bool(self._sums)

    def take(self) -> list[Statement]:
        """One statement per upsert, its rows in the upsert's order; forgets them."""
        statements: list[Statement] = []
        for upsert, rows in self._sums.items():
            keys = sorted(rows, key=upsert.order)
            params: dict[str, list[Any]] = {}
            for i, name in enumerate(upsert.keys):
                params[name] = [key[i] for key in keys]
            for i, name in enumerate(upsert.amounts):
                params[name] = [rows[key][i] for key in keys]
            statements.append((upsert.sql, params))
        self._sums.clear()
        return statements
