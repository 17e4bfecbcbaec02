"""Balance transactions and the daily settlement report reconciliation reads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import in_process

pytestmark = pytest.mark.unit

DAY_ONE = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC).timestamp()
DAY_TWO = datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def pay(
    client: httpx.AsyncClient, amount: int, order: str, currency: str = "usd"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/payment_intents",
        data={
            "amount": str(amount),
            "currency": currency,
            "payment_method": "pm_card_visa",
            "confirm": "true",
            "metadata[payment_order_id]": order,
        },
    )
    assert response.status_code == 200
    return response.json()


def rows(report: httpx.Response) -> list[dict[str, str]]:
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(report.text)))


async def test_a_charge_and_a_refund_make_balance_transactions_with_fee_and_net(
    tmp_path: Path,
) -> None:
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl")) as client:
        intent = await pay(client, 10000, "po_1")
        refund = (
            await client.post(
                "/v1/refunds", data={"payment_intent": intent["id"], "amount": "2500"}
            )
        ).json()
        everything = (await client.get("/v1/balance_transactions")).json()
        charges = (await client.get("/v1/balance_transactions", params={"type": "charge"})).json()
        by_source = (
            await client.get("/v1/balance_transactions", params={"source": refund["id"]})
        ).json()
        one = await client.get(f"/v1/balance_transactions/{refund['balance_transaction']}")

    refunded, charged = everything["data"]
    assert charged["object"] == "balance_transaction"
    assert (charged["type"], charged["amount"], charged["fee"], charged["net"]) == (
        "charge",
        10000,
        320,  # 2.9 % + 30
        9680,
    )
    assert charged["source"] == intent["latest_charge"]
    assert (refunded["type"], refunded["amount"], refunded["fee"], refunded["net"]) == (
        "refund",
        -2500,
        0,
        -2500,
    )
    assert [t["id"] for t in charges["data"]] == [charged["id"]]
    assert [t["id"] for t in by_source["data"]] == [refunded["id"]]
    assert one.json() == refunded


async def test_fees_round_half_up_and_zero_decimal_currencies_have_no_fixed_part(
    tmp_path: Path,
) -> None:
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl")) as client:
        await pay(client, 50, "po_small")  # 1.45 -> 1, + 30
        await pay(client, 1000, "po_yen", currency="jpy")  # 3.6 % of 1000
        fees = [t["fee"] for t in (await client.get("/v1/balance_transactions")).json()["data"]]
    assert fees == [36, 31]


async def test_the_settlement_report_lists_one_utc_day_in_decimal_amounts(tmp_path: Path) -> None:
    clock = Clock(DAY_ONE)
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl"), clock) as client:
        first = await pay(client, 1234, "po_1")
        yen = await pay(client, 5000, "po_2", currency="jpy")
        clock.now = DAY_TWO
        refund = (
            await client.post("/v1/refunds", data={"payment_intent": first["id"], "amount": "234"})
        ).json()
        day_one = rows(
            await client.get("/_sandbox/reports/settlement", params={"date": "2026-03-01"})
        )
        day_two = rows(
            await client.get("/_sandbox/reports/settlement", params={"date": "2026-03-02"})
        )
        empty = rows(
            await client.get("/_sandbox/reports/settlement", params={"date": "2026-03-03"})
        )
        bad = await client.get("/_sandbox/reports/settlement", params={"date": "03/01/2026"})

    assert [row["payment_order_id"] for row in day_one] == ["po_1", "po_2"]
    usd, jpy = day_one
    assert (usd["type"], usd["currency"], usd["amount"], usd["fee"], usd["net"]) == (
        "charge",
        "usd",
        "12.34",
        "0.66",
        "11.68",
    )
    assert usd["payment_intent"] == first["id"] and usd["source"] == first["latest_charge"]
    assert usd["created"] == "2026-03-01T23:59:58Z"
    assert (jpy["amount"], jpy["fee"], jpy["net"]) == ("5000", "180", "4820")
    assert jpy["payment_intent"] == yen["id"]
    [refund_row] = day_two
    assert (refund_row["type"], refund_row["source"], refund_row["amount"], refund_row["net"]) == (
        "refund",
        refund["id"],
        "-2.34",
        "-2.34",
    )
    assert refund_row["payment_order_id"] == "po_1"
    assert empty == []
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "date"


async def test_the_report_needs_the_api_key(tmp_path: Path) -> None:
    async with in_process(SandboxSettings(state_file=tmp_path / "s.jsonl")) as client:
        response = await client.get(
            "/_sandbox/reports/settlement",
            params={"date": "2026-03-01"},
            headers={"Authorization": ""},
        )
    assert response.status_code == 401
