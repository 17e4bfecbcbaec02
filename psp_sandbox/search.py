"""Stripe's search query language, the part PaymentIntents search needs.

    metadata['payment_order_id']:'po_1' AND status:'succeeded' AND amount>1000

A query is clauses joined by `AND` or by `OR` (Stripe refuses a mix of both). A clause is
`field:value` (exact match), `field~'value'` (substring, at least 3 characters), or a numeric
comparison `field>n`, `>=`, `<`, `<=` on `amount` and `created`; `-` before a clause negates it.
Values are quoted with '...' or "..." (numbers may be bare); inside quotes a backslash escapes
the next character, e.g. 'O\\'Brien'. Fields: `metadata['key']`, `status`, `currency`, `amount`,
`created`, `customer`.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from psp_sandbox.errors import ApiError, invalid_request

STRING_FIELDS = frozenset({"status", "currency", "customer"})
NUMBER_FIELDS = frozenset({"amount", "created"})
MAX_QUERY_LENGTH = 10_000

_CLAUSE = re.compile(
    r"""\s*
    (?P<negate>-)?
    (?P<field>metadata\[(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]|[a-z_]+)
    (?P<op>:|~|>=|<=|>|<)
    (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)
    \s*""",
    re.VERBOSE,
)
_ESCAPED = re.compile(r"\\(.)")
_JOINER = re.compile(r"(AND|OR)\s+")


@dataclass(frozen=True)
class Clause:
    negate: bool
    field: str  # "metadata" for a metadata clause, with `key` set
    key: str | None
    op: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return self._test(obj) != self.negate

    def _test(self, obj: Mapping[str, Any]) -> bool:
        if self.field == "metadata":
            actual = (obj.get("metadata") or {}).get(self.key or "")
        else:
            actual = obj.get(self.field)
        if self.op == ":":
            return actual is not None and str(actual) == self.value
        if self.op == "~":
            return actual is not None and self.value in str(actual)
        if not isinstance(actual, int):
            return False
        number = int(self.value)
        compare: dict[str, Callable[[int, int], bool]] = {
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }
        return compare[self.op](actual, number)


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    any_of: bool  # True for clauses joined by OR, False for AND (a single clause is AND)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        results = (clause.matches(obj) for clause in self.clauses)
        return any(results) if self.any_of else all(results)

    def metadata_equalities(self) -> list[tuple[str, str]]:
        """(key, value) pairs every match must have: lets the store use its metadata index."""
        if self.any_of:
            return []
        return [
            (clause.key or "", clause.value)
            for clause in self.clauses
            if clause.field == "metadata" and clause.op == ":" and not clause.negate
        ]


def parse(text: str) -> Query:
    """The query, or a 400 naming `query` that says what is wrong with it."""
    if not text.strip():
        raise _bad("The query must not be empty.")
    if len(text) > MAX_QUERY_LENGTH:
        raise _bad(f"The query must be at most {MAX_QUERY_LENGTH} characters long.")
    clauses: list[Clause] = []
    joiners: set[str] = set()
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise _bad(f"Invalid search query near position {position}: {text[position:]!r}.")
        clauses.append(_clause(match))
        position = match.end()
        if position == len(text):
            break
        # The clause pattern ate the blanks after it; a joiner needs at least one before it.
        joiner = _JOINER.match(text, position) if text[position - 1].isspace() else None
        if joiner is None:
            raise _bad(f"Expected AND or OR at position {position}: {text[position:]!r}.")
        joiners.add(joiner.group(1))
        position = joiner.end()
    if len(joiners) > 1:
        raise _bad("A query cannot mix AND and OR.")
    return Query(tuple(clauses), any_of=joiners == {"OR"})


def _clause(match: re.Match[str]) -> Clause:
    field, op, value = match.group("field"), match.group("op"), match.group("value")
    quoted = value[0] in "'\""
    if quoted:
        value = _unescape(value[1:-1])
    key = None
    if field.startswith("metadata["):
        field, key = "metadata", _unescape(field[len("metadata[") + 1 : -2])
    elif field not in STRING_FIELDS | NUMBER_FIELDS:
        raise _bad(f"Field '{field}' is not supported for search on payment_intents.")
    if op in (">", ">=", "<", "<="):
        if field not in NUMBER_FIELDS:
            raise _bad(f"Field '{field}' does not support the {op} operator.")
        if not value.isdigit():
            raise _bad(f"'{value}' is not a number for field '{field}'.")
    elif op == ":" and field in NUMBER_FIELDS and not value.isdigit():
        raise _bad(f"'{value}' is not a number for field '{field}'.")
    elif op == ":" and field not in NUMBER_FIELDS and not quoted:
        raise _bad(f"The value of '{field}' must be quoted.")
    elif op == "~" and len(value) < 3:
        raise _bad("A substring match (~) needs at least 3 characters.")
    return Clause(bool(match.group("negate")), field, key, op, value)


def _unescape(quoted: str) -> str:
    """Inside quotes a backslash escapes the next character (a quote or a backslash)."""
    return _ESCAPED.sub(lambda match: match.group(1), quoted)


def _bad(message: str) -> ApiError:
    return invalid_request(message, param="query")
