"""Errors the sandbox answers with, in Stripe's wire shape and with Stripe's HTTP statuses."""

from __future__ import annotations

from typing import Any

# The status the Stripe SDK maps each error type from (402 becomes CardError, 401
# AuthenticationError, 400/404 InvalidRequestError or IdempotencyError, 429 RateLimitError).
CARD_ERROR = "card_error"
INVALID_REQUEST = "invalid_request_error"
IDEMPOTENCY_ERROR = "idempotency_error"
API_ERROR = "api_error"


class ApiError(Exception):
    """An error response: HTTP status and the `{"error": {...}}` body Stripe would send."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": error_type, "message": message}
        if code is not None:
            self.error["code"] = code
        if param is not None:
            self.error["param"] = param
        self.error.update(extra)

    def body(self) -> dict[str, Any]:
        return {"error": self.error}


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> ApiError:
    return ApiError(status, INVALID_REQUEST, message, code=code, param=param)


def unknown_parameter(name: str) -> ApiError:
    return invalid_request(
        f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
    )


def missing_parameter(name: str) -> ApiError:
    return invalid_request(f"Missing required param: {name}.", param=name, code="parameter_missing")


def invalid_parameter(
    name: str, message: str, *, code: str = "parameter_invalid_string"
) -> ApiError:
    return invalid_request(message, param=name, code=code)


def no_such_payment_intent(intent_id: str, *, param: str = "intent") -> ApiError:
    return invalid_request(
        f"No such payment_intent: '{intent_id}'",
        param=param,
        code="resource_missing",
        status=404 if param == "intent" else 400,
    )
