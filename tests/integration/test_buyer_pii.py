"""Buyer PII on real PostgreSQL through the payment service's gRPC API: sealed at rest (AES-GCM,
bound to its row), shown masked, erasable without touching a cent, re-sealed after a rotation."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid

import pytest
import test_payment_svc
from click.testing import CliRunner
from sqlalchemy import text
from test_payment_svc import (
    Env,
    assert_invariants,
    create_request,
    get_checkout,
    new_request_id,
    scalar,
    settled_checkout,
)

from payment_svc.adapters.pii_cipher import PiiCipher, SealedPii, dev_cipher
from payment_svc.adapters.sql_pii import reseal_all
from payment_svc.pii_keys import DEV_KEY, DEV_KEY_ID
from paymesh.payment.v1 import payment_pb2
from paymesh_cli.main import cli

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

env = test_payment_svc.env
EMAIL, NAME = "ada@example.com", "Ada Buyer"


async def pay(e: Env, buyer_id: str) -> str:
    request = create_request()
    request.buyer_info.buyer_id = buyer_id
    await e.stub.CreatePayment(request, timeout=10)
    return request.checkout_id


async def stored(e: Env, checkout_id: str) -> dict[str, object]:
    async with e.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text(
                        "SELECT buyer_email, buyer_name, buyer_pii_key_id, buyer_pii_erased_at"
                        " FROM payment_events WHERE checkout_id = :id"
                    ),
                    {"id": checkout_id},
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


async def money_of(e: Env) -> list[tuple[object, ...]]:
    """Every order's money and state, and its history: what an erasure must not touch."""
    async with e.engine.connect() as conn:
        orders = (
            await conn.execute(
                text(
                    "SELECT payment_order_id, amount, currency, fee_amount, status,"
                    " wallet_updated, ledger_updated, psp_reference FROM payment_orders"
                    " ORDER BY payment_order_id"
                )
            )
        ).all()
        history = (
            await conn.execute(
                text(
                    "SELECT id, payment_order_id, to_status FROM payment_order_history ORDER BY id"
                )
            )
        ).all()
    return [tuple(r) for r in orders] + [tuple(r) for r in history]


async def erase(e: Env, buyer_id: str) -> payment_pb2.ErasePersonalDataResponse:
    return await e.stub.ErasePersonalData(
        payment_pb2.ErasePersonalDataRequest(request_id=new_request_id(), buyer_id=buyer_id),
        timeout=10,
    )


async def test_pii_is_sealed_at_rest_and_shown_masked(env: Env) -> None:
    checkout_id = await pay(env, "buyer_sealed")

    row = await stored(env, checkout_id)
    shown = await get_checkout(env, checkout_id)

    assert row["buyer_pii_key_id"] == DEV_KEY_ID
    dump = str(
        await scalar(
            env,
            "SELECT row_to_json(e)::text FROM payment_events e"
            f" WHERE checkout_id = '{checkout_id}'",
        )
    )
    assert EMAIL not in dump and NAME not in dump
    assert dev_cipher().open(
        checkout_id, SealedPii(DEV_KEY_ID, str(row["buyer_email"]), str(row["buyer_name"]))
    ) == (EMAIL, NAME)
    assert (shown.buyer_email_masked, shown.buyer_pii_erased) == ("a***@example.com", False)


async def test_a_value_copied_onto_another_buyers_row_is_not_shown(env: Env) -> None:
    victim = await pay(env, "buyer_victim")
    attacker = await pay(env, "buyer_attacker")
    async with env.engine.begin() as conn:  # as someone with write access to the table
        await conn.execute(
            text(
                "UPDATE payment_events SET buyer_email = v.buyer_email"
                " FROM payment_events v WHERE v.checkout_id = :victim"
                " AND payment_events.checkout_id = :attacker"
            ),
            {"victim": victim, "attacker": attacker},
        )

    shown = await get_checkout(env, attacker)

    assert shown.buyer_email_masked == ""  # refused to open: never the victim's address
    assert (await get_checkout(env, victim)).buyer_email_masked == "a***@example.com"


async def test_erasure_removes_a_buyers_pii_and_nothing_else(env: Env) -> None:
    buyer = f"buyer_{uuid.uuid4().hex[:8]}"
    mine = [await pay(env, buyer), await pay(env, buyer)]
    other = await pay(env, "buyer_other")
    for checkout_id in (*mine, other):
        await settled_checkout(env, checkout_id)
    money_before = await money_of(env)

    first = await erase(env, buyer)
    again = await erase(env, buyer)
    nobody = await erase(env, "buyer_unknown")

    assert (first.buyer_id, first.checkouts_erased) == (buyer, 2)
    assert again.checkouts_erased == 2  # a repeat answers the same
    assert nobody.checkouts_erased == 0
    for checkout_id in mine:
        shown = await get_checkout(env, checkout_id)
        assert (shown.buyer_email_masked, shown.buyer_pii_erased) == ("", True)
        assert shown.buyer_id == buyer  # the marketplace's pseudonym stays
        row = await stored(env, checkout_id)
        assert (row["buyer_email"], row["buyer_name"], row["buyer_pii_key_id"]) == ("", "", None)
        assert row["buyer_pii_erased_at"] is not None
    assert (await get_checkout(env, other)).buyer_email_masked == "a***@example.com"
    assert await money_of(env) == money_before
    await assert_invariants(env)


async def test_an_erased_row_cannot_hold_pii_again(env: Env) -> None:
    checkout_id = await pay(env, "buyer_gone")
    await erase(env, "buyer_gone")

    with pytest.raises(Exception, match="payment_event_erased_holds_no_pii"):
        async with env.engine.begin() as conn:
            await conn.execute(
                text("UPDATE payment_events SET buyer_email = 'x' WHERE checkout_id = :id"),
                {"id": checkout_id},
            )


async def test_clear_rows_are_sealed_and_a_rotation_moves_every_row_to_the_new_key(
    env: Env,
) -> None:
    legacy = await pay(env, "buyer_legacy")
    current = await pay(env, "buyer_current")
    erased = await pay(env, "buyer_erased")
    await erase(env, "buyer_erased")
    async with env.engine.begin() as conn:  # as stored before migration 0006
        await conn.execute(
            text(
                "UPDATE payment_events SET buyer_email = :e, buyer_name = :n,"
                " buyer_pii_key_id = NULL WHERE checkout_id = :id"
            ),
            {"e": EMAIL, "n": NAME, "id": legacy},
        )
    assert (await get_checkout(env, legacy)).buyer_email_masked == "a***@example.com"
    rotated = PiiCipher({DEV_KEY_ID: DEV_KEY, "k2": os.urandom(32)}, "k2")

    count = await reseal_all(env.engine, rotated, batch=1)  # batches walk every row once
    again = await reseal_all(env.engine, rotated)

    assert (count, again) == (2, 0)  # the erased row stays erased
    for checkout_id in (legacy, current):
        row = await stored(env, checkout_id)
        assert row["buyer_pii_key_id"] == "k2"
        assert EMAIL not in str(row["buyer_email"])
        sealed = SealedPii("k2", str(row["buyer_email"]), str(row["buyer_name"]))
        assert rotated.open(checkout_id, sealed) == (EMAIL, NAME)
    assert (await stored(env, erased))["buyer_pii_key_id"] is None


async def test_paymesh_pii_rotate_moves_rows_to_the_active_key(env: Env, database_url: str) -> None:
    checkout_id = await pay(env, "buyer_rotated")
    new_key = os.urandom(32)
    keys = (
        f"{DEV_KEY_ID}:{base64.b64encode(DEV_KEY).decode()},k3:{base64.b64encode(new_key).decode()}"
    )

    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["pii", "rotate", "--database-url", database_url],
        env={"PII_KEYS": keys, "PII_ACTIVE_KEY_ID": "k3"},
    )

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "re-sealed 1 checkouts under PII key k3"
    row = await stored(env, checkout_id)
    sealed = SealedPii("k3", str(row["buyer_email"]), str(row["buyer_name"]))
    assert row["buyer_pii_key_id"] == "k3"
    assert PiiCipher({"k3": new_key}, "k3").open(checkout_id, sealed) == (EMAIL, NAME)
