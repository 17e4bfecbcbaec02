"""JSON logs, one object per line, with card numbers, PII and secrets redacted from every line
(mesh.log_redaction). Each line carries the request id of the request it was written for
(mesh.request_ids; empty outside one) and the trace id of the current OpenTelemetry span (empty
when none is recording)."""

from __future__ import annotations

import json
import logging
import sys
import time

from opentelemetry import trace

from mesh.log_redaction import redact_line
from mesh.request_ids import current_request_id


def current_trace_id() -> str:
    """The trace id of the current span, as 32 hex digits; "" without a valid span (no SDK
    configured, or outside any span)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": current_request_id.get(),
            "trace_id": current_trace_id(),
        }
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Redact last, over the whole line, so no field or traceback can leak a PAN, an e-mail
        # or a secret.
        return redact_line(json.dumps(entry, default=str))


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "httpx", "httpcore", "stripe", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def log_fields(**fields: object) -> dict[str, dict[str, object]]:
    """`logger.info("...", extra=log_fields(order=...))` adds structured fields."""
    return {"fields": fields}
