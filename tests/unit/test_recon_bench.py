"""`paymesh recon bench`'s short form: on 10^4 generated rows every planted mismatch is found
with its class, and nothing else (precision = recall = 1 for every type)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from paymesh_cli.main import cli
from paymesh_cli.recon_bench import Score, score
from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.mismatches import MATCHER_TYPES


def test_ten_thousand_rows_every_type_found_and_classified_nothing_else() -> None:
    result = CliRunner().invoke(cli, ["recon", "bench", "--rows", "10000", "--seed", "7", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True and out["psp_rows"] >= 9_000 and out["order_rows"] >= 10_000
    assert out["reported_twice"] == 0 and out["found"] == out["planted"]
    assert set(out["per_type"]) == {kind.value for kind in MATCHER_TYPES}
    for kind, s in out["per_type"].items():
        assert s["planted"] > 0, kind
        assert (s["precision"], s["recall"], s["misclassified"]) == (1.0, 1.0, []), kind
    assert out["report"]["by_class"].keys() == {"1", "2", "3"}


def test_the_score_counts_a_false_a_missed_and_a_misclassified_mismatch() -> None:
    planted = {
        ("fee", "", "t1", "po_1", ""): MismatchClass.NEEDS_PERSON,
        ("fee", "", "t2", "po_2", ""): MismatchClass.NEEDS_PERSON,
        ("status", "order_unsettled", "t3", "po_3", ""): MismatchClass.AUTO_FIXED,
    }
    found = {
        ("fee", "", "t1", "po_1", ""): MismatchClass.NEEDS_PERSON,
        ("fee", "", "t9", "po_9", ""): MismatchClass.NEEDS_PERSON,
        ("status", "order_unsettled", "t3", "po_3", ""): MismatchClass.NEEDS_PERSON,
    }
    scores = score(planted, found)
    fee: Score = scores["fee"]
    assert (fee.planted, fee.found, fee.precision, fee.recall) == (2, 2, 0.5, 0.5)
    assert scores["status"].recall == 1.0 and len(scores["status"].misclassified) == 1
