"""The Reporting API: /v1/reporting/report_types and /v1/reporting/report_runs, as Stripe shapes
them (the stripe SDK's `reporting.ReportRun` / `reporting.ReportType` drive them).

    POST /v1/reporting/report_runs  report_type, parameters[interval_start|interval_end|
                                    currency|columns][...]   a run, `pending`
    GET  /v1/reporting/report_runs/{id}                      `succeeded` with `result` (a file)
                                                             once settings.report_run_after_s
                                                             has passed (report_completions)
    GET  /v1/reporting/report_runs                           newest first
    GET  /v1/reporting/report_types[/{id}]

A run's rows are the balance transactions as they are when it completes, so a discrepancy
seeded before then (discrepancies.py) is in its file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import form, listing, reporting
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_parameter, invalid_request, missing_parameter
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change, encode, json_response

RUN_SCHEDULE = "report_run_due"  # record kind: a pending run and when it completes
_PARAMETERS = frozenset({"interval_start", "interval_end", "currency", "columns", "timezone"})


def data_available(context: SandboxContext) -> tuple[int, int]:
    """[start, end] a run may cover: from the first balance transaction's day to the end of
    today (UTC). Stripe's end is when its data is complete; the sandbox's is complete at every
    instant, and accepting the rest of today lets a test report on the day it runs."""
    now = datetime.fromtimestamp(context.clock(), UTC)
    first = next(iter(context.store.all("balance_transaction")), None)
    start = (datetime.fromtimestamp(first["created"], UTC) if first is not None else now).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp())


class ReportingRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def list_types(self, request: Request) -> Response:
        listing.query_params(request, self._context.settings.api_key_prefix, ())
        start, end = data_available(self._context)
        now = int(self._context.clock())
        data = [t.to_json(start, end, now) for t in reporting.REPORT_TYPES.values()]
        body = {"object": "list", "data": data, "has_more": False, "url": request.url.path}
        return json_response(200, encode(body), new_id("req_"))

    async def retrieve_type(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        type_id = request.path_params["id"]
        report_type = reporting.REPORT_TYPES.get(type_id)
        if report_type is None:
            raise invalid_request(
                f"No such report type: '{type_id}'", code="resource_missing", status=404
            )
        start, end = data_available(self._context)
        body = report_type.to_json(start, end, int(self._context.clock()))
        return json_response(200, encode(body), new_id("req_"))

    async def create_run(self, request: Request) -> Response:
        return await self._context.runner.run(
            request, "POST /v1/reporting/report_runs", self._create
        )

    def _create(self, attempt: Attempt) -> Change:
        params = form.decode_deep(attempt.pairs)
        for name in params:
            if name not in ("report_type", "parameters"):
                raise invalid_request(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        type_id = params.get("report_type")
        if not isinstance(type_id, str):
            raise missing_parameter("report_type")
        report_type = reporting.REPORT_TYPES.get(type_id)
        if report_type is None:
            raise invalid_parameter("report_type", f"No such report type: '{type_id}'")
        raw = params.get("parameters") or {}
        if not isinstance(raw, dict):
            raise invalid_parameter("parameters", "Invalid hash: parameters")
        run_parameters = self._parameters(raw, report_type)
        now = int(attempt.now)
        run: dict[str, Any] = {
            "id": new_id("frr_"),
            "object": "reporting.report_run",
            "created": now,
            "error": None,
            "livemode": False,
            "parameters": run_parameters,
            "report_type": type_id,
            "result": None,
            "status": "pending",
            "succeeded_at": None,
        }
        change = Change(200, run, [run])
        due = attempt.now + self._context.settings.report_run_after_s
        change.emitted.records.append(
            (RUN_SCHEDULE, run["id"], {"due": due, "origin": attempt.origin})
        )
        return change

    def _parameters(self, raw: dict[str, Any], report_type: reporting.ReportType) -> dict[str, Any]:
        for name in raw:
            if name not in _PARAMETERS:
                raise invalid_request(
                    f"Received unknown parameter: parameters[{name}]",
                    param=f"parameters[{name}]",
                    code="parameter_unknown",
                )
        bounds = {}
        for name in ("interval_start", "interval_end"):
            text = raw.get(name)
            if text is None:
                raise missing_parameter(f"parameters[{name}]")
            if not isinstance(text, str) or not text.isdigit():
                raise invalid_parameter(
                    f"parameters[{name}]",
                    f"Invalid integer: {text}",
                    code="parameter_invalid_integer",
                )
            bounds[name] = int(text)
        start, end = data_available(self._context)
        if bounds["interval_start"] >= bounds["interval_end"]:
            raise invalid_parameter(
                "parameters[interval_start]", "interval_start must be before interval_end."
            )
        if bounds["interval_start"] < start and self._context.store.all("balance_transaction"):
            raise invalid_parameter(
                "parameters[interval_start]",
                f"interval_start must be at or after data_available_start ({start}).",
            )
        if bounds["interval_end"] > end:
            raise invalid_parameter(
                "parameters[interval_end]",
                f"interval_end must be at or before data_available_end ({end}).",
            )
        result: dict[str, Any] = dict(bounds)
        currency = raw.get("currency")
        if currency is not None:
            if not isinstance(currency, str) or len(currency) != 3:
                raise invalid_parameter("parameters[currency]", f"Invalid currency: {currency}")
            result["currency"] = currency.lower()
        timezone = raw.get("timezone")
        if timezone is not None:
            if timezone not in ("UTC", "Etc/UTC"):
                raise invalid_parameter("parameters[timezone]", "The sandbox reports in UTC only.")
            result["timezone"] = timezone
        columns = raw.get("columns")
        if columns is not None:
            if not isinstance(columns, dict) or not all(key.isdigit() for key in columns):
                raise invalid_parameter("parameters[columns]", "Invalid array: columns")
            names = [columns[key] for key in sorted(columns, key=int)]
            unknown = report_type.check_columns(names)
            if unknown is not None:
                raise invalid_parameter(
                    "parameters[columns]",
                    f"Unknown column for report type {report_type.id}: {unknown}",
                )
            result["columns"] = names
        return result

    async def retrieve_run(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        return listing.retrieve_response(
            self._context.store, "reporting.report_run", request.path_params["id"]
        )

    async def list_runs(self, request: Request) -> Response:
        params = listing.query_params(request, self._context.settings.api_key_prefix, ())
        return listing.list_response(
            self._context.store, "reporting.report_run", request.url.path, params
        )
