"""The engine reads the sandbox's own settlement report (GET /_sandbox/reports/settlement),
made by paying and refunding through the sandbox in process, against paymesh's side in files."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import in_process
from recon_svc.adapters.duckdb_matcher import DuckDbMatcher
from recon_svc.adapters.our_files import OurRecordFiles
from recon_svc.adapters.psp_report_file import PspReportFile
from recon_svc.adapters.sinks import CollectingSink
from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.period import Period
from recon_svc.service_layer.ports import OurFiles
from recon_svc.service_layer.reconcile import reconcile

MORNING = datetime(2026, 3, 1, 9, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1  # a second between calls: rows keep their order
        return self.now


async def pay(client: httpx.AsyncClient, cents: int, order: str, currency: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/payment_intents",
        data={"amount": str(cents), "currency": currency, "payment_method": "pm_card_visa",
              "confirm": "true", "metadata[payment_order_id]": order},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_sandbox_day_against_our_files(tmp_path: Path) -> None:
    async with in_process(
        SandboxSettings(state_file=tmp_path / "s.jsonl"), Clock(MORNING)
    ) as client:
        one = await pay(client, 10_000, "po_1", "usd")
        two = await pay(client, 5_000, "po_2", "usd")
        await pay(client, 2_000, "po_3", "eur")  # an order paymesh does not have
        refund = (
            await client.post("/v1/refunds", data={"payment_intent": one["id"], "amount": "1000"})
        ).json()
        report = await client.get("/_sandbox/reports/settlement", params={"date": "2026-03-01"})
    assert report.status_code == 200, report.text
    settlement = tmp_path / "settlement-2026-03-01.csv"
    settlement.write_text(report.text)
    at = "2026-03-01 09:00:00+00"
    orders = [
        ("po_1", one["id"], "SUCCESS", "100.00", "USD", "", at),
        ("po_2", two["id"], "SUCCESS", "49.00", "USD", "", at),  # the PSP charged 50.00
        ("po_4", "pi_never", "SUCCESS", "7.00", "USD", "", at),  # the PSP never charged it
    ]
    refunds = [("rf_1", "po_1", refund["id"], "SUCCEEDED", "10.00", "USD", at)]
    ours = OurFiles(tmp_path / "orders.csv", tmp_path / "refunds.csv")
    for path, header, rows in (
        (ours.orders, "payment_order_id,psp_reference,status,amount,currency,psp_fee,created_at",
         orders),
        (ours.refunds, "refund_id,payment_order_id,psp_reference,status,amount,currency,created_at",
         refunds),
    ):  # fmt: skip
        with path.open("w", newline="") as f:
            f.write(header + "\n")
            csv.writer(f, lineterminator="\n").writerows(rows)

    sink = CollectingSink()
    result = reconcile(
        Period.day(date(2026, 3, 1)),
        PspReportFile(settlement),
        OurRecordFiles(ours),
        DuckDbMatcher(),
        sink,
        tmp_path,
    )

    found = {(m.key[0], m.key[3]): c.mismatch_class for m, c in sink.found}
    assert found == {
        ("amount", "po_2"): MismatchClass.NEEDS_PERSON,
        ("missing_ours", "po_3"): MismatchClass.NEEDS_PERSON,
        ("missing_at_psp", "po_4"): MismatchClass.NEEDS_PERSON,
    }
    summary = result.summary
    assert summary is not None
    assert summary.psp_rows == 4 and summary.matched == {"psp_id": 3}
    # The sandbox's card fees (2.9 % + 0.30) of the two matched charges, not booked by paymesh.
    assert summary.fees_to_book == {"USD": Decimal("3.20") + Decimal("1.75")}
    assert summary.totals["USD"].theirs == Decimal("140.00")  # 100 + 50 - 10
    assert summary.totals["EUR"].ours == 0 and summary.totals["EUR"].theirs == Decimal("20.00")
