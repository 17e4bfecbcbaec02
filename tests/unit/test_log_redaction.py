"""No PII or secret reaches a log line: the redaction runs over the final, serialized JSON line,
whatever path (message, arguments, extra fields, exception) the value took into it."""

from __future__ import annotations

import json
import logging

import pytest

from mesh.log_redaction import hide_in_logs, redact_line
from mesh.logs import JsonFormatter, log_fields

pytestmark = pytest.mark.unit

EMAIL = "ada.lovelace+shop@example.co.uk"
WEBHOOK_SECRET = "whsec_4f9aXq0Lm2"
PSP_KEY = "sk_live_51Habc123XYZ"
RESTRICTED_KEY = "rk_test_51Habc123XYZ"
API_KEY = "pmk_0123456789abcdef_Zm9vYmFyLWJhel9xdXV4LXNlY3JldA"
DB_PASSWORD = "s3cr3t-p@ss"
DSN = f"postgresql://payment:{DB_PASSWORD}@db.internal:5432/paymesh"
BEARER = "Bearer pmk_feedfacecafebeef_tokentokentoken"
PAN = "4242 4242 4242 4242"
CONFIGURED = "a-configured-pii-key-in-base64=="

EVERYTHING = (EMAIL, WEBHOOK_SECRET, PSP_KEY, RESTRICTED_KEY, API_KEY, DB_PASSWORD, PAN, CONFIGURED)


def emit(message: str, *args: object, exc: BaseException | None = None, **fields: object) -> str:
    record = logging.getLogger("t").makeRecord(
        "t",
        logging.WARNING,
        __file__,
        1,
        message,
        args,
        (type(exc), exc, exc.__traceback__) if exc else None,
        extra=log_fields(**fields),
    )
    return JsonFormatter("test").format(record)


def assert_clean(line: str) -> None:
    json.loads(line)  # still one JSON object
    for secret in EVERYTHING:
        assert secret not in line, secret
    assert "tokentokentoken" not in line
    assert "Z9vYmFy" not in line and "ss@db" not in line


def test_the_message_arguments_are_redacted() -> None:
    hide_in_logs(CONFIGURED)
    line = emit(
        "buyer %s paid with %s; psp key %s, %s; webhook %s; api key %s; db %s; auth %s; %s",
        EMAIL,
        PAN,
        PSP_KEY,
        RESTRICTED_KEY,
        WEBHOOK_SECRET,
        API_KEY,
        DSN,
        f"Authorization: {BEARER}",
        CONFIGURED,
    )

    assert_clean(line)
    assert "db.internal:5432/paymesh" in line  # what is not secret stays, to be useful
    assert "pmk_0123456789abcdef_" in line  # the key's id stays: it names the key


def test_extra_fields_are_redacted() -> None:
    hide_in_logs(CONFIGURED)
    line = emit(
        "request",
        buyer={"email": EMAIL, "name": "Ada"},
        headers={"Authorization": BEARER, "Stripe-Signature": "t=1,v1=ab"},
        database_url=DSN,
        settings=[PSP_KEY, RESTRICTED_KEY, WEBHOOK_SECRET, API_KEY, CONFIGURED, PAN],
    )

    assert_clean(line)


def test_an_exception_text_is_redacted() -> None:
    try:
        raise ConnectionError(f"cannot connect to {DSN} for {EMAIL} with {PSP_KEY}")
    except ConnectionError as err:
        line = emit("failed", exc=err)

    assert_clean(line)
    assert "ConnectionError" in line


def test_ordinary_text_is_left_alone() -> None:
    text = '{"msg": "order po_1 of co_1 SUCCESS, 12.34 USD, pi_3Abc, evt_1, 2026-12-02T10:00"}'

    assert redact_line(text) == text
