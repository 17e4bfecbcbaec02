"""The hosted payment page of a checkout session: GET and POST /pay/{session}.

A real HTML form (card number, expiry, CVC) that posts back here. The card number lives only
for the length of that request: it picks the test payment method (Stripe's test card numbers,
below) and is then dropped; it is never stored, logged or echoed back. The PaymentIntent is
created and charged, the events (and so the webhooks) are made, and the browser is sent (303)
to the session's URL with the result in the query:

    success_url ({CHECKOUT_SESSION_ID} replaced, as Stripe does) + session_id, payment_intent,
        result=succeeded
    cancel_url (or return_url, or success_url) + session_id, payment_intent, result=failed,
        decline_code

A declined session stays open: the buyer may come back and try another card, on the same
PaymentIntent. A paid session answers a second submission by redirecting again, charging
nothing. Card 4000 0000 0000 3220 (3-D Secure) passes its challenge on the page at once.
"""

from __future__ import annotations

import copy
import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from psp_sandbox import charging, currencies, payment_intents
from psp_sandbox.card_outcomes import CardOutcome, Result
from psp_sandbox.checkout_sessions import expired_if_due, public
from psp_sandbox.context import SandboxContext
from psp_sandbox.events import Emitted

# Stripe's test card numbers and the test payment method each stands for.
TEST_CARD_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa",
    "4000056655665556": "pm_card_visa_debit",
    "5555555555554444": "pm_card_mastercard",
    "378282246310005": "pm_card_amex",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000009987": "pm_card_chargeDeclinedLostCard",
    "4000000000009979": "pm_card_chargeDeclinedStolenCard",
    "4000000000000069": "pm_card_chargeDeclinedExpiredCard",
    "4000000000000127": "pm_card_chargeDeclinedIncorrectCvc",
    "4000000000000119": "pm_card_chargeDeclinedProcessingError",
    "4100000000000019": "pm_card_chargeDeclinedFraudulent",
    "4000000000003220": "pm_card_threeDSecure2Required",
}
# Any other valid number: a real card in test mode, which Stripe declines.
NOT_A_TEST_CARD = CardOutcome(
    Result.DECLINED,
    "unknown",
    "0000",
    "card_declined",
    "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test card.",
)
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")
_CVC = re.compile(r"^\d{3,4}$")


class HostedPage:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def show(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _page("Not found", "<p>This payment page does not exist.</p>", 404)
        if session["status"] == "complete":
            return _page("Paid", "<p>This payment is complete. Thank you.</p>")
        if session["status"] == "expired":
            return _page("Expired", "<p>This payment page has expired.</p>", 410)
        return _form(session)

    async def pay(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _page("Not found", "<p>This payment page does not exist.</p>", 404)
        if session["status"] == "expired":
            return _page("Expired", "<p>This payment page has expired.</p>", 410)
        if session["status"] == "complete":
            # A second click or a reload: the buyer paid already; say so again.
            intent = self._context.store.intent(session["payment_intent"])
            return _redirect(session, intent)
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        problem = _invalid_card(fields)
        if problem:
            return _form(session, problem, status=400)
        number = re.sub(r"[\s-]", "", fields["card_number"])
        token = TEST_CARD_NUMBERS.get(number)
        del number, fields  # the card number goes no further
        return self._charge(session, token)

    def _charge(self, session: dict[str, Any], token: str | None) -> Response:
        context = self._context
        now = context.clock()
        factory = context.event_factory()
        emitted = Emitted()
        existing = context.store.intent(session["payment_intent"] or "")
        if existing is not None:
            intent = copy.deepcopy(existing)
        else:
            metadata = {**session["metadata"], **session["payment_intent_metadata"]}
            draft = payment_intents.create(
                {
                    "amount": str(session["amount_total"]),
                    "currency": session["currency"],
                    "metadata": metadata,
                },
                now=int(now),
            )
            intent = draft.intent
            factory.emit(emitted, "payment_intent.created", intent, now)
        if token is None:
            outcome, token = NOT_A_TEST_CARD, "pm_card_live"
        else:
            outcome = payment_intents.known_payment_method(token)
        if outcome.result is Result.REQUIRES_ACTION:
            # The challenge is passed on the page itself.
            outcome = CardOutcome(Result.SUCCEEDED, outcome.brand, outcome.last4)
        done = charging.Confirmed()
        intent["payment_method"] = token
        if outcome.result is Result.SUCCEEDED:
            charging.succeed(intent, outcome, now, factory, done)
        else:
            charging.decline(intent, outcome, now, factory, done)
        session = {**session, "payment_intent": intent["id"]}
        if intent["status"] == "succeeded":
            session.update(status="complete", payment_status="paid", url=None)
            factory.emit(done.emitted, "checkout.session.completed", public(session), now)
        context.store.save(
            [*done.objects, session, *emitted.events, *done.emitted.events],
            records=emitted.records + done.emitted.records,
        )
        return _redirect(session, intent)

    def _session(self, request: Request) -> dict[str, Any] | None:
        session = self._context.store.get(request.path_params["session"], "checkout.session")
        return expired_if_due(session, self._context.clock()) if session is not None else None


def _invalid_card(fields: dict[str, str]) -> str:
    """What is wrong with the card fields, in words for the buyer; empty when nothing is."""
    number = re.sub(r"[\s-]", "", fields.get("card_number", ""))
    if not number.isdigit() or not 13 <= len(number) <= 19 or not _luhn(number):
        return "Your card number is invalid."
    expiry = _EXPIRY.match(fields.get("expiry", ""))
    if expiry is None or not 1 <= int(expiry.group(1)) <= 12:
        return "Your card's expiration date is incomplete."
    month, year = int(expiry.group(1)), int(expiry.group(2))
    year = year + 2000 if year < 100 else year
    today = datetime.now(UTC)
    if (year, month) < (today.year, today.month):
        return "Your card's expiration date is in the past."
    if not _CVC.match(fields.get("cvc", "").strip()):
        return "Your card's security code is incomplete."
    return ""


def _luhn(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _redirect(session: dict[str, Any], intent: dict[str, Any] | None) -> Response:
    paid = intent is not None and intent["status"] == "succeeded"
    result: dict[str, str] = {
        "session_id": session["id"],
        "payment_intent": intent["id"] if intent else "",
        "result": "succeeded" if paid else "failed",
    }
    if paid:
        target = session["success_url"] or session["return_url"]
    else:
        error = (intent or {}).get("last_payment_error") or {}
        result["decline_code"] = error.get("decline_code") or error.get("code") or ""
        target = session["cancel_url"] or session["return_url"] or session["success_url"]
    return RedirectResponse(_with_query(target, result), status_code=303)


def _with_query(url: str, extra: dict[str, str]) -> str:
    url = url.replace("{CHECKOUT_SESSION_ID}", extra["session_id"])
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def display_amount(amount: int, currency: str) -> str:
    """Minor units as the buyer reads them, e.g. 1234 usd -> "12.34 USD" (display only)."""
    return f"{currencies.to_decimal_string(amount, currency)} {currency.upper()}"


def _form(session: dict[str, Any], error: str = "", status: int = 200) -> Response:
    amount = display_amount(session["amount_total"], session["currency"])
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""
<h1>Pay {html.escape(amount)}</h1>
<p class="note">Sandbox: use a test card, e.g. 4242 4242 4242 4242 (succeeds) or
4000 0000 0000 0002 (declined).</p>
{message}
<form method="post" action="/pay/{html.escape(session["id"])}">
  <label>Card number
    <input name="card_number" inputmode="numeric" autocomplete="cc-number"
           placeholder="1234 1234 1234 1234" required></label>
  <label>Expiry (MM / YY)
    <input name="expiry" autocomplete="cc-exp" placeholder="MM / YY" required></label>
  <label>CVC
    <input name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC" required></label>
  <button type="submit">Pay {html.escape(amount)}</button>
</form>"""
    return _page(f"Pay {amount}", body, status)


def _page(title: str, body: str, status: int = 200) -> Response:
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - paymesh sandbox PSP</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 3rem auto; }}
label {{ display: block; margin: 0.8rem 0; }}
input {{ display: block; width: 100%; padding: 0.5rem; font-size: 1rem; }}
button {{ padding: 0.6rem 1.2rem; font-size: 1rem; }}
.error {{ color: #b00020; }} .note {{ color: #555; font-size: 0.9rem; }}
</style>
</head>
<body>{body}
</body>
</html>
"""
    # The page holds a card form: never cache it, never frame it.
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
    return HTMLResponse(document, status_code=status, headers=headers)
