"""Creating a PaymentIntent from request parameters.

Pure: no I/O. Amounts are integers in minor units, as on Stripe's wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psp_sandbox import currencies, form
from psp_sandbox.card_outcomes import CardOutcome, outcome_for
from psp_sandbox.errors import (
    invalid_parameter,
    invalid_request,
    missing_parameter,
    unknown_parameter,
)
from psp_sandbox.ids import new_id

Intent = dict[str, Any]

CREATE_PARAMETERS = frozenset(
    {
        "amount",
        "currency",
        "confirm",
        "description",
        "metadata",
        "payment_method",
        "automatic_payment_methods",
        "allowed_payment_method_types",
        "payment_method_types",
    }
)
MAX_AMOUNT = 99_999_999  # Stripe's limit: eight digits of minor units
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500

_CURRENCY = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True)
class Draft:
    """A valid new PaymentIntent, not yet stored; `confirm_with` is set when it is to be charged."""

    intent: Intent
    confirm_with: CardOutcome | None = None


def create(params: form.Params, *, now: int) -> Draft:
    """Validate create parameters into a new PaymentIntent (charging it is charging.py's job).

    Raises ApiError (nothing created) for invalid parameters or an unknown payment method.
    """
    for name in params:
        if name not in CREATE_PARAMETERS:
            raise unknown_parameter(name)
    amount = _amount(params)
    currency = _currency(params)
    refusal = currencies.amount_refusal(amount, currency)
    if refusal is not None:
        raise invalid_parameter("amount", refusal[1], code=refusal[0])
    confirm = _boolean("confirm", form.as_string(params, "confirm"), default=False)
    metadata = metadata_param(params)
    description = form.as_string(params, "description")
    payment_method_types = _payment_method_types(params)
    automatic_payment_methods = _automatic_payment_methods(params)
    payment_method = form.as_string(params, "payment_method")
    outcome = None
    if payment_method is not None:
        outcome = known_payment_method(payment_method)
    elif confirm:
        raise missing_parameter("payment_method")

    intent_id = new_id("pi_")
    intent: Intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": automatic_payment_methods,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('')}",
        "confirmation_method": "automatic",
        "created": now,
        "currency": currency,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "payment_method": payment_method,
        "payment_method_types": payment_method_types,
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
    }
    return Draft(intent, outcome if confirm else None)


def known_payment_method(payment_method: str) -> CardOutcome:
    outcome = outcome_for(payment_method)
    if outcome is None:
        raise invalid_request(
            f"No such PaymentMethod: '{payment_method}'",
            param="payment_method",
            code="resource_missing",
        )
    return outcome


def _amount(params: form.Params) -> int:
    text = form.as_string(params, "amount")
    if text is None:
        raise missing_parameter("amount")
    if not text.isdigit():
        raise invalid_parameter(
            "amount", f"Invalid integer: {text}", code="parameter_invalid_integer"
        )
    amount = int(text)
    if amount < 1:
        raise invalid_parameter(
            "amount",
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
        )
    if amount > MAX_AMOUNT:
        raise invalid_parameter(
            "amount", f"Amount must be no more than {MAX_AMOUNT}.", code="amount_too_large"
        )
    return amount


def _currency(params: form.Params) -> str:
    text = form.as_string(params, "currency")
    if text is None:
        raise missing_parameter("currency")
    currency = text.lower()
    if not _CURRENCY.match(currency):
        raise invalid_parameter("currency", f"Invalid currency: {text}.")
    return currency


def _payment_method_types(params: form.Params) -> list[str]:
    # `allowed_payment_method_types` is the newer API versions' name for the same list.
    for name in ("allowed_payment_method_types", "payment_method_types"):
        kinds = form.as_list(params, name)
        for index, kind in enumerate(kinds or []):
            if kind != "card":
                raise invalid_parameter(
                    f"{name}[{index}]",
                    f"The payment method type {kind!r} is not supported here; use 'card'.",
                )
        if kinds:
            return kinds
    return ["card"]


def _automatic_payment_methods(params: form.Params) -> dict[str, Any] | None:
    if "automatic_payment_methods" not in params:
        return None
    settings = form.as_hash(params, "automatic_payment_methods")
    for name in settings:
        if name not in ("enabled", "allow_redirects"):
            raise unknown_parameter(f"automatic_payment_methods[{name}]")
    if "enabled" not in settings:
        raise missing_parameter("automatic_payment_methods[enabled]")
    allow_redirects = settings.get("allow_redirects", "always")
    if allow_redirects not in ("always", "never"):
        raise invalid_parameter(
            "automatic_payment_methods[allow_redirects]",
            "Invalid automatic_payment_methods[allow_redirects]: must be one of always, never",
        )
    return {
        "enabled": _boolean("automatic_payment_methods[enabled]", settings["enabled"]),
        "allow_redirects": allow_redirects,
    }


def _boolean(name: str, text: str | None, *, default: bool = False) -> bool:
    if text is None:
        return default
    if text not in ("true", "false"):
        raise invalid_parameter(name, f"Invalid boolean: {text}", code="parameter_invalid_boolean")
    return text == "true"


def metadata_param(params: form.Params) -> dict[str, str]:
    metadata = {key: value for key, value in form.as_hash(params, "metadata").items() if value}
    if len(metadata) > MAX_METADATA_KEYS:
        raise invalid_request(
            f"Metadata can have up to {MAX_METADATA_KEYS} keys.", param="metadata"
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise invalid_request(
                f"Metadata keys can have up to {MAX_METADATA_KEY_LENGTH} characters.",
                param=f"metadata[{key}]",
            )
        if len(value) > MAX_METADATA_VALUE_LENGTH:
            raise invalid_request(
                f"Metadata values can have up to {MAX_METADATA_VALUE_LENGTH} characters.",
                param=f"metadata[{key}]",
            )
    return metadata
