"""The sandbox's Reporting API (report types, runs completing later, their files), the platform's
payouts and the seeded discrepancies, through ASGI with a clock the test moves."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from psp_sandbox import SandboxSettings
from psp_sandbox.reporting import ACTIVITY, PAYOUTS, REPORT_TYPES
from psp_sandbox.testing import in_process

pytestmark = pytest.mark.unit

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
DAY = (
    int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()),
    int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()),
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def pay(client: httpx.AsyncClient, amount: int, order: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/payment_intents",
        data={"amount": str(amount), "currency": "usd", "payment_method": "pm_card_visa",
              "confirm": "true", "metadata[payment_order_id]": order},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


async def run_report(
    client: httpx.AsyncClient, clock: Clock, report_type: str, **extra: str
) -> list[dict[str, str]]:
    created = await client.post(
        "/v1/reporting/report_runs",
        data={"report_type": report_type, "parameters[interval_start]": str(DAY[0]),
              "parameters[interval_end]": str(DAY[1]), **extra},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    run = created.json()
    assert (run["object"], run["status"], run["result"]) == (
        "reporting.report_run",
        "pending",
        None,
    )
    clock.now += 1  # past report_run_after_s
    for _ in range(200):
        run = (await client.get(f"/v1/reporting/report_runs/{run['id']}")).json()
        if run["status"] != "pending":
            break
        await asyncio.sleep(0.02)
    assert run["status"] == "succeeded", run
    file = run["result"]
    assert (file["object"], file["purpose"], file["type"]) == ("file", "finance_report_run", "csv")
    assert (await client.get(f"/v1/files/{file['id']}")).json() == file
    contents = await client.get(f"/v1/files/{file['id']}/contents")
    assert contents.status_code == 200 and contents.headers["content-type"].startswith("text/csv")
    assert len(contents.content) == file["size"]
    return list(csv.DictReader(io.StringIO(contents.text)))


async def test_a_report_run_completes_later_with_stripes_default_columns(tmp_path: Path) -> None:
    clock = Clock(NOON)
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl"), clock) as client:
        intent = await pay(client, 10_000, "po_1")
        rows = await run_report(client, clock, ACTIVITY)
        types = (await client.get("/v1/reporting/report_types")).json()["data"]

    assert [t["id"] for t in types] == list(REPORT_TYPES)
    [row] = rows
    assert list(row) == list(REPORT_TYPES[ACTIVITY].default_columns)
    assert row["balance_transaction_id"].startswith("txn_")
    assert row["created_utc"] == "2026-03-01 12:00:00"
    assert row["available_on_utc"] == "2026-03-03 12:00:00"  # two days later
    assert [row[c] for c in ("gross", "fee", "net", "currency")] == [
        "100.00",
        "3.20",
        "96.80",
        "usd",
    ]
    assert (row["reporting_category"], row["source_id"]) == ("charge", intent["latest_charge"])
    assert row["customer_facing_amount"] == "100.00"


async def test_columns_pick_metadata_and_the_payouts_report_has_the_platform_payout(
    tmp_path: Path,
) -> None:
    clock = Clock(NOON)
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl"), clock) as client:
        intent = await pay(client, 10_000, "po_1")
        transfer = await client.post(
            "/v1/transfers",
            data={"amount": "4000", "currency": "usd", "destination": "acct_sandboxS1"},
        )
        assert transfer.status_code == 200, transfer.text
        nothing = await client.post("/_sandbox/platform_payouts", json={"currency": "usd"})
        payout = await client.post(
            "/_sandbox/platform_payouts",
            json={"currency": "usd", "available_before": int(NOON) + 3 * 86_400},
        )
        again = await client.post(
            "/_sandbox/platform_payouts",
            json={"currency": "usd", "available_before": int(NOON) + 3 * 86_400},
        )
        columns = ("balance_transaction_id", "payment_intent_id",
                   "payment_metadata[payment_order_id]", "reporting_category", "net")  # fmt: skip
        activity = await run_report(
            client, clock, ACTIVITY,
            **{f"parameters[columns][{i}]": c for i, c in enumerate(columns)},
        )  # fmt: skip
        payouts = await run_report(client, clock, PAYOUTS)

    # Nothing is available yet (funds take two days); later, the charge's net less the transfer.
    assert nothing.status_code == 400 and nothing.json()["error"]["code"] == "balance_insufficient"
    assert payout.status_code == 200 and payout.json()["amount"] == 9_680 - 4_000
    assert again.status_code == 400  # all of it was paid out
    assert [list(r.values()) for r in activity] == [
        [activity[0]["balance_transaction_id"], intent["id"], "po_1", "charge", "96.80"],
        [activity[1]["balance_transaction_id"], "", "", "transfer", "-40.00"],
    ]
    [row] = payouts
    assert (row["payout_id"], row["gross"], row["fee"], row["reporting_category"]) == (
        payout.json()["id"], "-56.80", "0.00", "payout")  # fmt: skip


async def test_a_run_is_refused_clear_errors(tmp_path: Path) -> None:
    clock = Clock(NOON)
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl"), clock) as client:
        await pay(client, 1_000, "po_1")

        async def create(**data: str) -> httpx.Response:
            return await client.post("/v1/reporting/report_runs", data=data)

        unknown = await create(report_type="balance.nope")
        missing = await create(report_type=ACTIVITY)
        future = await create(**{"report_type": ACTIVITY, "parameters[interval_start]": str(DAY[0]),
                                 "parameters[interval_end]": str(DAY[1] + 86_400)})  # fmt: skip
        column = await create(**{"report_type": ACTIVITY, "parameters[interval_start]": str(DAY[0]),
                                 "parameters[interval_end]": str(DAY[1]),
                                 "parameters[columns][0]": "card_number"})  # fmt: skip
        no_file = await client.get("/v1/files/file_nope/contents")
        no_key = await client.get("/v1/reporting/report_types", headers={"Authorization": ""})

    for response, param in (
        (unknown, "report_type"),
        (missing, "parameters[interval_start]"),
        (future, "parameters[interval_end]"),
        (column, "parameters[columns]"),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
    assert no_file.status_code == 404 and no_key.status_code == 401


async def test_seeded_discrepancies_show_in_balance_transactions(tmp_path: Path) -> None:
    clock = Clock(NOON)
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl"), clock) as client:
        for n in (1, 2, 3):
            await pay(client, 10_000, f"po_{n}")

        async def seed(**body: Any) -> httpx.Response:
            return await client.post("/_sandbox/discrepancies", json=body)

        fee = await seed(kind="fee_differs", payment_order_id="po_1", fee_delta=7)
        missing = await seed(kind="missing_charge", payment_order_id="po_2")
        late = await seed(kind="late_settlement", payment_order_id="po_3", delay_s=86_400)
        duplicate = await seed(kind="duplicate_charge", payment_order_id="po_3")
        extra = await seed(kind="extra_charge", amount=1_234, currency="usd")
        bad_kind = await seed(kind="chaos")
        no_order = await seed(kind="missing_charge", payment_order_id="po_9")
        no_delta = await seed(kind="fee_differs", payment_order_id="po_1")
        listed = (await client.get("/v1/balance_transactions", params={"limit": 100})).json()
        seeded = (await client.get("/_sandbox/discrepancies")).json()["data"]

    for response in (fee, missing, late, duplicate, extra):
        assert response.status_code == 200, response.text
    assert (bad_kind.status_code, no_order.status_code, no_delta.status_code) == (400, 404, 400)
    by_id = {t["id"]: t for t in listed["data"]}
    [changed] = fee.json()["balance_transactions"]
    assert (by_id[changed]["fee"], by_id[changed]["net"]) == (327, 9_673)
    assert missing.json()["balance_transactions"] == []
    assert len(by_id) == 3 - 1 + 1 + 1  # po_2's is hidden; a duplicate and an extra charge
    [moved] = late.json()["balance_transactions"]
    assert by_id[moved]["created"] == int(NOON) + 86_400
    [extra_txn] = extra.json()["balance_transactions"]
    assert (by_id[extra_txn]["amount"], by_id[extra_txn]["fee"]) == (1_234, 66)
    kinds = ["fee_differs", "missing_charge", "late_settlement", "duplicate_charge", "extra_charge"]
    assert [s["kind"] for s in seeded] == kinds


async def test_a_finished_run_and_its_file_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock(NOON)
    settings = SandboxSettings(state_file=tmp_path / "s.jsonl")
    async with in_process(settings, clock) as client:
        await pay(client, 2_500, "po_1")
        [row] = await run_report(client, clock, ACTIVITY)
        runs = (await client.get("/v1/reporting/report_runs")).json()["data"]
    async with in_process(settings, clock) as client:
        [run] = (await client.get("/v1/reporting/report_runs")).json()["data"]
        contents = await client.get(f"/v1/files/{run['result']['id']}/contents")
    assert run == runs[0]
    assert [*csv.DictReader(io.StringIO(contents.text))] == [row]
    assert row["fee"] == "1.03"  # 2.9 % of 25.00 = 0.725, half up to 0.73, + 0.30
