"""README's "Who may do what" says what the contracts say: one row per route derived from them,
with its scope and whether it is audited, and a row for every scope a key may hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.routes import derive_routes
from gateway.scopes import SCOPES, is_audited, required_scope

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"


def who_may_do_what() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Who may do what")
    end = re.compile(r"^#{2,3} ", re.M).search(text, start + 1)
    return text[start : end.start() if end else len(text)]


def test_the_route_table_matches_the_contracts() -> None:
    section = who_may_do_what()
    documented = set(
        re.findall(r"^\| `([A-Z]+ /[^`]*)` \| `([a-z:]+)` \| (yes|no) \|$", section, re.M)
    )
    expected = {
        (
            f"{r.http_method} {r.template}",
            required_scope(r.method),
            "yes" if is_audited(r.method) else "no",
        )
        for r in derive_routes()
    }
    assert documented == expected, "update the route table in README's 'Who may do what'"


def test_every_scope_is_explained() -> None:
    documented = re.findall(r"^\| `([a-z:]+)` \| ", who_may_do_what(), re.M)
    assert documented == list(SCOPES)
