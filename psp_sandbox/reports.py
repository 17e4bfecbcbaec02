"""The daily settlement report: GET /_sandbox/reports/settlement?date=YYYY-MM-DD.

One CSV row per balance transaction created on that UTC day, oldest first, for reconciliation
against paymesh's payment orders and ledger. Amounts are DECIMAL STRINGS in the currency's
major unit ("12.34", "-5.00"; "1234" for JPY), signed (refunds are negative), computed from
Stripe's integer minor units without floats; `net` = `amount` - `fee`. Columns:

    balance_transaction_id, created (ISO 8601, UTC), available_on (date), type (charge,
    refund), source (ch_... or re_...), payment_intent, payment_order_id (the intent's
    metadata; empty when it has none), currency (lower case, as Stripe), amount, fee, net

Needs the API key, like /v1.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import discrepancies
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.currencies import to_decimal_string
from psp_sandbox.errors import invalid_parameter, missing_parameter, unknown_parameter

COLUMNS = (
    "balance_transaction_id",
    "created",
    "available_on",
    "type",
    "source",
    "payment_intent",
    "payment_order_id",
    "currency",
    "amount",
    "fee",
    "net",
)


class ReportRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def settlement(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        for name in request.query_params:
            if name != "date":
                raise unknown_parameter(name)
        text = request.query_params.get("date")
        if text is None:
            raise missing_parameter("date")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise invalid_parameter("date", f"Invalid date (YYYY-MM-DD): {text}") from None
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        end = int(
            (datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)).timestamp()
        )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for transaction in discrepancies.visible_transactions(self._context.store):
            if start <= transaction["created"] < end:
                writer.writerow(self._row(transaction))
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="settlement-{day}.csv"'},
        )

    def _row(self, transaction: dict[str, Any]) -> list[str]:
        store = self._context.store
        source = transaction["source"]
        origin = store.get(source, "charge") or store.get(source, "refund") or {}
        intent_id = origin.get("payment_intent") or ""
        intent = store.intent(intent_id) or {}
        currency = transaction["currency"]
        return [
            transaction["id"],
            datetime.fromtimestamp(transaction["created"], UTC).isoformat().replace("+00:00", "Z"),
            datetime.fromtimestamp(transaction["available_on"], UTC).date().isoformat(),
            transaction["type"],
            source,
            intent_id,
            (intent.get("metadata") or {}).get("payment_order_id", ""),
            currency,
            to_decimal_string(transaction["amount"], currency),
            to_decimal_string(transaction["fee"], currency),
            to_decimal_string(transaction["net"], currency),
        ]
