"""The PSP's side of the books through the stripe SDK: a day of charges, a refund, a transfer to
a seller and the PSP's payout to the platform in the sandbox, with seeded discrepancies; the
adapter runs Stripe's report runs, polls them, downloads their files, and the engine reads them.

One sandbox for the file (module scope): the day is made once, each test reads what it needs."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import running_sandbox

from recon_svc.adapters.duckdb_matcher import DuckDbMatcher
from recon_svc.adapters.our_files import OurRecordFiles
from recon_svc.adapters.sinks import CollectingSink
from recon_svc.adapters.stripe_reports import (
    ACTIVITY_COLUMNS,
    StripeReportSettings,
    StripeReportTransactions,
)
from recon_svc.domain.period import Period
from recon_svc.service_layer.ports import OurFiles
from recon_svc.service_layer.reconcile import reconcile

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_reports"


@pytest.fixture(scope="module")
async def day(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """The sandbox serving a day: po_1..po_6 charged (po_1 partly refunded), discrepancies
    seeded on po_2..po_6 plus one extra charge, a transfer of 50.00 to a seller, then the
    PSP's payout of everything to the platform's bank."""
    state = tmp_path_factory.mktemp("reports") / "psp.jsonl"
    async with (
        running_sandbox(state) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as client,
    ):
        intents = {}
        for n, cents in enumerate((10_000, 5_000, 2_500, 4_000, 3_000, 7_000), start=1):
            response = await client.post(
                "/v1/payment_intents",
                data={"amount": str(cents), "currency": "usd", "payment_method": "pm_card_visa",
                      "confirm": "true", "metadata[payment_order_id]": f"po_{n}"},
            )  # fmt: skip
            assert response.status_code == 200, response.text
            intents[f"po_{n}"] = response.json()
        refund = await client.post(
            "/v1/refunds",
            data={"payment_intent": intents["po_1"]["id"], "amount": "1000",
                  "metadata[refund_id]": "rf_1"},
        )  # fmt: skip
        assert refund.status_code == 200, refund.text
        for seed in (
            {"kind": "missing_charge", "payment_order_id": "po_2"},
            {"kind": "fee_differs", "payment_order_id": "po_3", "fee_delta": 5},
            {"kind": "amount_differs", "payment_order_id": "po_4", "amount_delta": -100},
            {"kind": "duplicate_charge", "payment_order_id": "po_5"},
            {"kind": "late_settlement", "payment_order_id": "po_6", "delay_s": 3 * 86_400},
            {"kind": "extra_charge", "amount": 1_234, "currency": "usd"},
        ):
            seeded = await client.post("/_sandbox/discrepancies", json=seed)
            assert seeded.status_code == 200, seeded.text
        transfer = await client.post(
            "/v1/transfers",
            data={"amount": "5000", "currency": "usd", "destination": "acct_sandboxSeller1"},
        )
        assert transfer.status_code == 200, transfer.text
        payout = await client.post(
            "/_sandbox/platform_payouts",
            json={"currency": "usd", "available_before": int(time.time()) + 10 * 86_400},
        )
        assert payout.status_code == 200, payout.text
        yield {"base": base, "intents": intents, "refund": refund.json(), "payout": payout.json()}


def _today() -> Period:
    return Period.day(datetime.now(UTC).date())


async def _report(day: dict[str, Any], directory: Path) -> list[dict[str, str]]:
    settings = StripeReportSettings(API_KEY, day["base"], poll_interval_s=0.1)
    path = await asyncio.to_thread(StripeReportTransactions(settings).spool, _today(), directory)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == ACTIVITY_COLUMNS
        return list(reader)


async def test_the_report_runs_have_stripe_columns_fees_and_the_discrepancies(
    day: dict[str, Any], tmp_path: Path
) -> None:
    rows = await _report(day, tmp_path)

    by_order: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["reporting_category"] == "charge":
            by_order.setdefault(row["payment_metadata[payment_order_id]"], []).append(row)
    # po_2's charge is missing; po_5 is charged twice; po_6 settles three days late (not today);
    # one charge has no paymesh order.
    assert sorted(by_order) == ["", "po_1", "po_3", "po_4", "po_5"]
    assert len(by_order["po_5"]) == 2 and len(by_order[""]) == 1
    po_1 = by_order["po_1"][0]
    # The sandbox's card fee, 2.9 % + 0.30, in the currency's decimals; net = gross - fee.
    assert (po_1["gross"], po_1["fee"], po_1["net"]) == ("100.00", "3.20", "96.80")
    assert po_1["payment_intent_id"] == day["intents"]["po_1"]["id"]
    assert po_1["created_utc"][:10] == datetime.now(UTC).date().isoformat()
    assert by_order["po_3"][0]["fee"] == "1.08"  # 0.7250 + 0.30 rounds to 1.03, plus 0.05
    assert by_order["po_4"][0]["gross"] == "39.00"  # charged 40.00
    refund = next(r for r in rows if r["reporting_category"] == "refund")
    assert (refund["gross"], refund["fee"]) == ("-10.00", "0.00")
    assert refund["source_id"] == day["refund"]["id"]
    assert refund["refund_metadata[refund_id]"] == "rf_1"
    assert refund["payment_metadata[payment_order_id]"] == "po_1"
    transfer = next(r for r in rows if r["reporting_category"] == "transfer")
    assert transfer["gross"] == "-50.00"
    payout = next(r for r in rows if r["reporting_category"] == "payout")
    assert payout["balance_transaction_id"] == day["payout"]["id"]
    # The payout took the whole balance: every row of the PSP's books nets to zero, except
    # po_6's late charge, which was paid out too but belongs to a later day's report.
    total = sum(Decimal(r["net"]) for r in rows)
    assert total == Decimal("-67.67")  # -(70.00 - its fee of 2.03 + 0.30)


async def test_the_engine_finds_every_seeded_discrepancy(
    day: dict[str, Any], tmp_path: Path
) -> None:
    ours = OurFiles(tmp_path / "orders.csv", tmp_path / "refunds.csv")
    at = datetime.now(UTC).isoformat()
    orders = [
        (f"po_{n}", day["intents"][f"po_{n}"]["id"], "SUCCESS", amount, "USD", "", at)
        for n, amount in enumerate(("100.00", "50.00", "25.00", "40.00", "30.00", "70.00"), 1)
    ]
    with ours.orders.open("w", newline="") as f:
        f.write("payment_order_id,psp_reference,status,amount,currency,psp_fee,created_at\n")
        csv.writer(f, lineterminator="\n").writerows(orders)
    with ours.refunds.open("w", newline="") as f:
        f.write("refund_id,payment_order_id,psp_reference,status,amount,currency,created_at\n")
        csv.writer(f, lineterminator="\n").writerow(
            ("rf_1", "po_1", day["refund"]["id"], "SUCCEEDED", "10.00", "USD", at)
        )
    settings = StripeReportSettings(API_KEY, day["base"], poll_interval_s=0.1)
    sink = CollectingSink()

    report = await asyncio.to_thread(
        reconcile,
        _today(),
        StripeReportTransactions(settings),
        OurRecordFiles(ours),
        DuckDbMatcher(),
        sink,
        tmp_path,
    )

    found = sorted((m.key[0], m.key[3]) for m, _ in sink.found)
    assert ("missing_at_psp", "po_2") in found
    assert ("amount", "po_4") in found
    assert ("duplicate_charge", "po_5") in found
    assert ("missing_at_psp", "po_6") in found  # settled later than the period's margin
    assert ("unmatched_psp", "") in found  # the extra charge, with no metadata of ours
    # po_3's fee differs, but paymesh has booked no fee for it yet: nothing to compare.
    assert report.summary is not None
    assert report.summary.not_compared == {"payout": 1, "transfer": 1}
