"""The REST API fuzzed from its own OpenAPI document (schemathesis), on the running stack.

`paymesh dev` is started as a user starts it; schemathesis reads `/openapi.json` from it and
sends every operation valid and invalid requests (the contract's patterns, lengths, item limits,
enums and formats are in the document), then follows the document's links statefully (POST
/v1/payments, then GET the checkout and its order, ...). Every answer must not be a 5xx and
must conform to the document (status code, content type, body schema), and every invalid
request must be refused with a 4xx. Bounded (examples per operation, steps per scenario) and
seeded, so a run takes under two minutes on two cores and a failure can be replayed.
`paymesh check` runs afterwards: the money invariants still hold.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import Counter
from decimal import Decimal, InvalidOperation

import hypothesis
import pytest
import schemathesis
from devstack import check, dev_stack
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from mesh.cards import contains_card_number
from payment_svc.adapters.stripe_currencies import refusal
from payment_svc.domain.risk_limits import DEFAULT_MAX_ORDER_AMOUNTS

# The stack's start, a bounded fuzz run and the invariant check after it: generous beside the
# 300 s every other test gets (ADR 0007).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SEED = 8_2026
# The suite's short form: 25 cases per operation and mode, 8 linked scenarios. `make fuzz` sets
# FUZZ_EXAMPLES=75 and FUZZ_SCENARIOS=15, the long form (the suite must stay under 20 minutes
# on two cores, and each new public route adds its own examples to every run).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # per operation and mode
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "8"))
STATEFUL_STEPS = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FIGURES: Counter[str] = Counter()  # requests sent, by operation; printed at the end
STATUSES: Counter[int] = Counter()  # answers, by HTTP status
CHECKOUTS = itertools.count()  # numbers the valid checkouts' buyers
KEYS = itertools.count()  # numbers the valid requests' idempotency keys


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    started = time.monotonic()
    with dev_stack(tmp_path_factory.mktemp("fuzz") / "data") as running:
        yield running
        # The fuzzed hosted checkouts wait for a buyer who never comes and never settle: the
        # wait only lets the others finish (seconds), so it is bounded well under a minute.
        report = check(running, settle_timeout=20)
        assert report["ok"], report["violations"]
    assert not [status for status in STATUSES if status >= 500], STATUSES
    operations = len({k.split(" ", 1)[1] for k in FIGURES if " " in k})
    print(
        f"\nfuzz figures: {sum(FIGURES.values())} requests over {operations} operations, "
        f"answers by status {dict(sorted(STATUSES.items()))}, "
        f"{time.monotonic() - started:.0f} s with the stack's start and paymesh check\n"
        f"by operation: {dict(sorted(FIGURES.items()))}"
    )


@pytest.fixture(scope="module")
def auth(stack) -> dict[str, str]:
    key = (stack.data_dir / "dev-api-key").read_text().strip()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def api_schema(stack, auth):
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json", timeout=30)
    schema.config.update(base_url=stack.url, headers=auth)

    @schema.hook
    def map_case(context, case):
        valid = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
        if valid and case.operation.method.upper() == "POST":
            # Generated keys repeat, and a key reused with another body is a 422: a valid
            # request gets a key of its own (numbered, so a run replays).
            case.headers = {**(case.headers or {}), "Idempotency-Key": fresh_idempotency_key()}
        if valid and case.operation.label == "POST /v1/payments" and isinstance(case.body, dict):
            keep_the_rules_json_schema_cannot_say(case.body)
        if valid and case.operation.label == "POST /v1/webhook-endpoints":
            if isinstance(case.body, dict):
                # Events of the fuzzed checkouts go nowhere: a closed port of this machine,
                # never a generated host on the network.
                case.body["url"] = "http://127.0.0.1:9/fuzz"
        return case

    return schema


def fresh_idempotency_key() -> str:
    while contains_card_number(key := str(uuid.uuid5(uuid.NAMESPACE_URL, f"fuzz-{next(KEYS)}"))):
        pass
    return key


def _payable(amount: str) -> str:
    """A generated amount made acceptable for any currency Stripe takes: whole units (no
    currency's precision is exceeded), positive, and small enough for the risk check's limit
    in any currency."""
    try:
        units = int(Decimal(amount))
    except (InvalidOperation, ValueError):
        units = 0
    return str(units if 0 < units < 100 else 10)


def keep_the_rules_json_schema_cannot_say(body: dict) -> None:
    """Valid cases (positive mode) of POST /v1/payments made to follow the rules JSON Schema
    cannot carry: the contract's CEL rules (payment_method / redirect_url by flow, unique order
    ids), ids not taken yet, each currency's precision, Stripe's minor units, and the risk
    check's limits and velocity (counted per buyer and per token). Without this, nearly every
    "valid" checkout is refused (400, 409 or 422) and the stateful links are never followed."""
    hosted = body.get("flow") == "PAYMENT_FLOW_HOSTED"
    if hosted:
        body.pop("payment_method", None)
        body.setdefault("redirect_url", "https://shop.example/done")
    else:
        body.pop("redirect_url", None)
        body["payment_method"] = "pm_card_visa"  # a test token, which velocity does not count
    # Ids of their own (generated ones repeat: 409), one buyer per checkout (velocity).
    n = next(CHECKOUTS)
    body["checkout_id"] = f"{str(body.get('checkout_id', ''))[:50]}-{n}"
    buyer = body.get("buyer_info")
    if isinstance(buyer, dict):
        buyer["buyer_id"] = f"{str(buyer.get('buyer_id', ''))[:90]}-{n}"
    for i, order in enumerate(body.get("payment_orders") or []):
        if not isinstance(order, dict):
            continue
        order["payment_order_id"] = f"{str(order.get('payment_order_id', ''))[:50]}-{n}-{i}"
        currency = order.get("currency", "USD")
        amount = _payable(str(order.get("amount", "0")))
        limit = DEFAULT_MAX_ORDER_AMOUNTS.limit_for(currency)
        if limit is None or limit < Decimal(amount) or refusal(Decimal(amount), currency):
            order["currency"], amount = "USD", "10.00"  # a currency the risk check accepts
        order["amount"] = amount


def fuzz_operation(operation, mode: GenerationMode, auth: dict[str, str]) -> list[str]:
    """Send up to MAX_EXAMPLES seeded cases of `mode` to `operation`; the failures, described."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.seed(SEED)
    def run(case) -> None:
        FIGURES[f"{mode.value} {operation.label}"] += 1
        try:
            response = case.call(headers=auth, timeout=30)
            STATUSES[response.status_code] += 1
            extra = [negative_data_rejection] if mode is GenerationMode.NEGATIVE else []
            case.validate_response(response, checks=[*CHECKS, *extra])
        except AssertionError as failure:  # every failure is kept; the run goes on
            if len(failures) < 3:
                failures.append(f"{operation.label} ({mode.value}): {failure}"[:3000])

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body has no negative case.
        assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


def test_every_operation_answers_within_its_contract(api_schema, auth):
    # The pytest plugin's lazy loader (schemathesis.pytest.from_fixture) does not run on
    # pytest 9, so the operations are walked with schemathesis' Python API.
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz_operation(operation, mode, auth)
    assert not failures, "\n\n".join(failures)


def test_linked_operations_answer_within_their_contract(api_schema, auth):
    class Links(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"headers": auth, "timeout": 30}

        def after_call(self, response, case):
            super().after_call(response, case)
            FIGURES[f"stateful {case.operation.label}"] += 1
            STATUSES[response.status_code] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Links.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert any(k.startswith("stateful POST") for k in FIGURES), FIGURES
