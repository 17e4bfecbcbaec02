"""The sandbox PSP as a Stripe client sees it on the wire (in-process, through ASGI)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from psp_sandbox import SandboxSettings, create_app
from psp_sandbox.journal import JournalCorrupt

pytestmark = pytest.mark.unit

API_KEY = "sk_test_unit"
Sandbox = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


def payment(payment_method: str = "pm_card_visa", **extra: str) -> dict[str, str]:
    return {
        "amount": "1234",
        "currency": "usd",
        "payment_method": payment_method,
        "confirm": "true",
        "metadata[payment_order_id]": "po_1",
        "metadata[checkout_id]": "co_1",
        **extra,
    }


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "psp-sandbox.jsonl"


@pytest.fixture
def sandbox(state_file: Path) -> Sandbox:
    """Start (or restart) the sandbox on the test's state file; stopping it closes the journal."""

    @asynccontextmanager
    async def running() -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(SandboxSettings(state_file=state_file))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://sandbox",
                headers={"Authorization": f"Bearer {API_KEY}"},
            ) as client:
                yield client

    return running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox() as running:
        yield running


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def prepend(path: Path, data: bytes) -> None:
    path.write_bytes(data + path.read_bytes())


async def all_intents(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/payment_intents", params={"limit": 100})
    assert response.status_code == 200
    return response.json()["data"]


async def test_healthz_answers_without_an_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200


async def test_visa_payment_succeeds_with_a_charge(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/payment_intents", data=payment(description="order po_1"))

    assert response.status_code == 200
    intent = response.json()
    assert intent["object"] == "payment_intent"
    assert intent["id"].startswith("pi_")
    assert intent["status"] == "succeeded"
    assert intent["amount"] == 1234 and intent["amount_received"] == 1234
    assert intent["currency"] == "usd"
    assert intent["latest_charge"].startswith("ch_")
    assert intent["metadata"] == {"payment_order_id": "po_1", "checkout_id": "co_1"}
    assert intent["description"] == "order po_1"
    assert response.headers["Request-Id"].startswith("req_")
    fetched = await client.get(f"/v1/payment_intents/{intent['id']}")
    assert fetched.json() == intent


async def test_upper_case_currency_is_stored_lower_case(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/payment_intents", data=payment(currency="JPY"))
    assert response.json()["currency"] == "jpy"


@pytest.mark.parametrize(
    ("token", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
        ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
        ("pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    ],
)
async def test_declined_card_answers_402_and_still_creates_the_intent(
    client: httpx.AsyncClient, token: str, code: str, decline_code: str
) -> None:
    response = await client.post("/v1/payment_intents", data=payment(token))

    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        code,
        decline_code,
    )
    assert error["message"]
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["amount_received"] == 0
    stored = (await client.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert stored["status"] == "requires_payment_method"
    assert stored["last_payment_error"]["decline_code"] == decline_code


async def test_three_d_secure_card_requires_action_without_a_charge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/payment_intents", data=payment("pm_card_threeDSecure2Required")
    )

    assert response.status_code == 200
    intent = response.json()
    assert intent["status"] == "requires_action"
    assert intent["latest_charge"] is None
    assert intent["amount_received"] == 0
    assert intent["next_action"]["type"] == "use_stripe_sdk"


async def test_unknown_payment_method_is_rejected_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/payment_intents", data=payment("pm_card_nonsense"))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "resource_missing"
    assert error["param"] == "payment_method"
    assert await all_intents(client) == []


async def test_without_confirm_nothing_is_charged(client: httpx.AsyncClient) -> None:
    params = payment()
    del params["confirm"]
    intent = (await client.post("/v1/payment_intents", data=params)).json()
    assert intent["status"] == "requires_confirmation"
    assert intent["latest_charge"] is None


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"amount": "12.34"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "100000000"}, "amount"),
        ({"currency": "dollars"}, "currency"),
        ({"confirm": "yes"}, "confirm"),
        ({"capture_method": "manual"}, "capture_method"),
        ({"metadata[" + "k" * 41 + "]": "v"}, "metadata[" + "k" * 41 + "]"),
    ],
)
async def test_invalid_parameters_are_named_in_a_400(
    client: httpx.AsyncClient, change: dict[str, str], param: str
) -> None:
    response = await client.post("/v1/payment_intents", data={**payment(), **change})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert await all_intents(client) == []


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("50050", "isk", "invalid_charge_amount_no_decimal_compatible"),
        ("5124", "kwd", "parameter_invalid_integer"),
    ],
)
async def test_amounts_stripe_refuses_in_its_special_currencies_are_a_400(
    client: httpx.AsyncClient, amount: str, currency: str, code: str
) -> None:
    response = await client.post(
        "/v1/payment_intents", data=payment(amount=amount, currency=currency)
    )
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (
        "amount",
        code,
    )
    assert await all_intents(client) == []
    for ok_amount, ok_currency in (("50000", "isk"), ("5120", "kwd")):
        response = await client.post(
            "/v1/payment_intents",
            data=payment(amount=ok_amount, currency=ok_currency, **{"metadata[n]": ok_amount}),
        )
        assert response.status_code == 200, response.text


async def test_missing_amount_is_a_400(client: httpx.AsyncClient) -> None:
    params = payment()
    del params["amount"]
    response = await client.post("/v1/payment_intents", data=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_missing"


async def test_requests_without_a_valid_secret_key_are_refused(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/payment_intents", headers={"Authorization": ""})
    live = await client.post(
        "/v1/payment_intents",
        data=payment(),
        headers={"Authorization": "Bearer sk_live_0123456789abcdef"},
    )

    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert live.status_code == 401
    assert "sk_live_0123456789abcdef" not in live.text
    assert await all_intents(client) == []


async def test_basic_auth_with_the_key_as_user_name_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    response = await client.get("/v1/payment_intents", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200


async def test_same_idempotency_key_replays_the_first_answer(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "po_1"}
    first = await client.post("/v1/payment_intents", data=payment(), headers=headers)
    reordered = dict(reversed(list(payment().items())))
    again = await client.post("/v1/payment_intents", data=reordered, headers=headers)

    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Original-Request"] == first.headers["Request-Id"]
    assert again.json() == first.json()
    assert len(await all_intents(client)) == 1


async def test_same_idempotency_key_replays_a_decline(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "po_declined"}
    data = payment("pm_card_chargeDeclined")
    first = await client.post("/v1/payment_intents", data=data, headers=headers)
    again = await client.post("/v1/payment_intents", data=data, headers=headers)

    assert first.status_code == again.status_code == 402
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(await all_intents(client)) == 1


async def test_same_idempotency_key_with_other_parameters_is_refused(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "po_1"}
    await client.post("/v1/payment_intents", data=payment(), headers=headers)
    response = await client.post(
        "/v1/payment_intents", data=payment(amount="9999"), headers=headers
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"
    intents = await all_intents(client)
    assert [intent["amount"] for intent in intents] == [1234]


async def test_a_request_refused_as_invalid_does_not_use_up_its_key(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "po_1"}
    invalid = await client.post(
        "/v1/payment_intents", data=payment("pm_card_typo"), headers=headers
    )
    corrected = await client.post("/v1/payment_intents", data=payment(), headers=headers)

    assert invalid.status_code == 400
    assert corrected.status_code == 200
    assert "Idempotent-Replayed" not in corrected.headers


async def test_concurrent_requests_with_one_key_create_one_intent(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "po_race"}
    responses = await asyncio.gather(
        *(client.post("/v1/payment_intents", data=payment(), headers=headers) for _ in range(20))
    )

    assert {response.status_code for response in responses} == {200}
    assert len({response.json()["id"] for response in responses}) == 1
    fresh = [r for r in responses if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1
    assert len(await all_intents(client)) == 1


async def test_list_pages_through_every_intent_newest_first(client: httpx.AsyncClient) -> None:
    created = []
    for number in range(25):
        data = payment(**{"metadata[payment_order_id]": f"po_{number}"})
        created.append((await client.post("/v1/payment_intents", data=data)).json()["id"])

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 10}
    pages = 0
    while True:
        page = (await client.get("/v1/payment_intents", params=params)).json()
        pages += 1
        assert page["object"] == "list" and page["url"] == "/v1/payment_intents"
        seen += [intent["id"] for intent in page["data"]]
        if not page["has_more"]:
            break
        params = {"limit": 10, "starting_after": page["data"][-1]["id"]}

    assert pages == 3
    assert seen == created[::-1]
    default = (await client.get("/v1/payment_intents")).json()
    assert len(default["data"]) == 10
    before = (
        await client.get("/v1/payment_intents", params={"limit": 3, "ending_before": created[20]})
    ).json()
    assert [intent["id"] for intent in before["data"]] == created[23:20:-1]
    assert before["has_more"] is True


@pytest.mark.parametrize(
    "params",
    [{"limit": 101}, {"limit": 0}, {"starting_after": "pi_unknown"}, {"customer": "cus_1"}],
)
async def test_bad_list_parameters_are_refused(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/v1/payment_intents", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == next(iter(params))


async def test_unknown_intent_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/payment_intents/pi_missing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


async def test_unknown_url_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/charges")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_intents_and_keys_survive_a_restart(sandbox: Sandbox) -> None:
    headers = {"Idempotency-Key": "po_1"}
    async with sandbox() as client:
        first = (await client.post("/v1/payment_intents", data=payment(), headers=headers)).json()
        declined = await client.post(
            "/v1/payment_intents",
            data=payment("pm_card_chargeDeclined"),
            headers={"Idempotency-Key": "po_2"},
        )

    async with sandbox() as client:
        fetched = await client.get(f"/v1/payment_intents/{first['id']}")
        replay = await client.post("/v1/payment_intents", data=payment(), headers=headers)
        conflict = await client.post(
            "/v1/payment_intents", data=payment(amount="1"), headers=headers
        )
        intents = await all_intents(client)

    assert fetched.json() == first
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first
    assert conflict.status_code == 400
    assert [i["id"] for i in intents] == [
        declined.json()["error"]["payment_intent"]["id"],
        first["id"],
    ]


async def test_a_line_torn_by_a_crash_is_dropped_and_the_journal_stays_usable(
    sandbox: Sandbox, state_file: Path
) -> None:
    async with sandbox() as client:
        first = (await client.post("/v1/payment_intents", data=payment())).json()
    append(state_file, b'{"intent":{"id":"pi_torn"')  # killed mid-write, never answered

    async with sandbox() as client:
        second = (await client.post("/v1/payment_intents", data=payment())).json()
    async with sandbox() as client:
        ids = [intent["id"] for intent in await all_intents(client)]

    assert ids == [second["id"], first["id"]]


async def test_a_journal_written_before_refunds_and_events_still_replays(
    sandbox: Sandbox, state_file: Path
) -> None:
    state_file.parent.mkdir(parents=True)
    old = {"id": "pi_old", "object": "payment_intent", "amount": 5, "currency": "usd"}
    old |= {"status": "succeeded", "metadata": {"payment_order_id": "po_old"}, "created": 1}
    response = {"fingerprint": "f", "status": 200, "body": "{}", "request_id": "req_old"}
    line = {"intent": old, "idempotency_key": "po_old", "response": response}
    append(state_file, json.dumps(line).encode() + b"\n")

    async with sandbox() as client:
        fetched = await client.get("/v1/payment_intents/pi_old")
        found = await client.get(
            "/v1/payment_intents/search", params={"query": "metadata['payment_order_id']:'po_old'"}
        )

    assert fetched.json() == old
    assert [intent["id"] for intent in found.json()["data"]] == ["pi_old"]


async def test_a_corrupt_record_before_the_end_stops_the_start(
    sandbox: Sandbox, state_file: Path
) -> None:
    async with sandbox() as client:
        await client.post("/v1/payment_intents", data=payment())
    prepend(state_file, b"not json\n")

    with pytest.raises(JournalCorrupt, match=":1:"):
        async with sandbox():
            pass


def test_settings_have_safe_defaults_and_read_the_environment() -> None:
    assert SandboxSettings.from_env({}) == SandboxSettings(
        host="127.0.0.1",
        port=12111,
        state_file=Path(".paymesh/psp-sandbox.jsonl"),
        api_key_prefix="sk_test_",
    )
    settings = SandboxSettings.from_env(
        {
            "PSP_SANDBOX_HOST": "0.0.0.0",
            "PSP_SANDBOX_PORT": "8080",
            "PSP_SANDBOX_STATE_FILE": "/tmp/x.jsonl",
            "PSP_SANDBOX_API_KEY_PREFIX": "sk_dev_",
        }
    )
    assert settings == SandboxSettings("0.0.0.0", 8080, Path("/tmp/x.jsonl"), "sk_dev_")


@pytest.mark.parametrize(
    "environ",
    [
        {"PSP_SANDBOX_PORT": "http"},
        {"PSP_SANDBOX_PORT": "70000"},
        {"PSP_SANDBOX_API_KEY_PREFIX": ""},
    ],
)
def test_settings_refuse_nonsense(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="PSP_SANDBOX_"):
        SandboxSettings.from_env(environ)
