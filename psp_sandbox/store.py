"""The sandbox's state: PaymentIntents and idempotency records, in memory and in the journal."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from psp_sandbox.journal import Journal
from psp_sandbox.payment_intents import Intent


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, replayed byte for byte on a retry."""

    fingerprint: str  # what the request asked for; a retry must ask for the same
    status: int
    body: str
    request_id: str


@dataclass(frozen=True)
class Page:
    data: list[Intent]
    has_more: bool


class SandboxStore:
    """Every change is journaled before memory changes, and before the client hears of it."""

    def __init__(self, state_file: Path) -> None:
        self._journal = Journal(state_file)
        self._intents: dict[str, Intent] = {}
        self._order: list[str] = []  # intent ids, oldest first
        self._position: dict[str, int] = {}
        self._responses: dict[str, StoredResponse] = {}

    def open(self) -> None:
        """Replay the journal into memory and get ready to append."""
        for record in self._journal.open():
            self._apply(record)

    def close(self) -> None:
        self._journal.close()

    def save(
        self,
        intent: Intent,
        idempotency_key: str | None = None,
        response: StoredResponse | None = None,
    ) -> None:
        """Record an intent and the answer it gave as one journal line (both or neither)."""
        record: dict[str, Any] = {"intent": intent}
        if idempotency_key is not None and response is not None:
            record["idempotency_key"] = idempotency_key
            record["response"] = asdict(response)
        self._journal.append(record)
        self._apply(record)

    def _apply(self, record: dict[str, Any]) -> None:
        intent = record.get("intent")
        if intent is not None:
            intent_id = intent["id"]
            if intent_id not in self._intents:
                self._position[intent_id] = len(self._order)
                self._order.append(intent_id)
            self._intents[intent_id] = intent
        key = record.get("idempotency_key")
        if key is not None:
            self._responses[key] = StoredResponse(**record["response"])

    def intent(self, intent_id: str) -> Intent | None:
        return self._intents.get(intent_id)

    def response(self, idempotency_key: str) -> StoredResponse | None:
        return self._responses.get(idempotency_key)

    def page(
        self, limit: int, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page:
        """Newest first, like Stripe's lists. Cursors must be ids this store knows."""
        newest = len(self._order) - 1
        if ending_before is not None:
            # The `limit` intents just newer than the cursor, still listed newest first.
            low = self._position[ending_before] + 1
            high = min(newest, low + limit - 1)
            ids = self._order[low : high + 1][::-1]
            return Page([self._intents[i] for i in ids], has_more=high < newest)
        high = newest if starting_after is None else self._position[starting_after] - 1
        low = max(0, high - limit + 1)
        ids = self._order[low : high + 1][::-1] if high >= 0 else []
        return Page([self._intents[i] for i in ids], has_more=low > 0)
