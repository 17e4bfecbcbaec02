"""The sandbox's state, in memory and in the journal: Stripe objects, idempotency records, and the
sandbox's own bookkeeping (fault config, scheduled transitions, webhook deliveries).

Every change is one journal line written before memory changes and before the client hears of
it, so a change and what it causes (an intent, its event, its balance transaction, the answer
stored under the idempotency key) survive a crash together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from psp_sandbox.journal import Journal
from psp_sandbox.search import Query

StripeObject = dict[str, Any]
Intent = StripeObject


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, replayed byte for byte on a retry."""

    fingerprint: str  # what the request asked for; a retry must ask for the same
    status: int
    body: str
    request_id: str


@dataclass(frozen=True)
class Page:
    data: list[StripeObject]
    has_more: bool


class SandboxStore:
    def __init__(self, state_file: Path) -> None:
        self._journal = Journal(state_file)
        self._objects: dict[str, StripeObject] = {}
        self._order: dict[str, list[str]] = {}  # object type -> ids, oldest first
        self._position: dict[str, int] = {}  # id -> index in its type's order
        self._responses: dict[str, StoredResponse] = {}
        # (metadata key, value) -> intent ids, oldest first: searching by payment_order_id is
        # how paymesh finds an order's charge, so it must not scan every intent.
        self._by_metadata: dict[tuple[str, str], list[str]] = {}
        # The sandbox's own records (fault config, schedules, deliveries), by kind then id.
        self._records: dict[str, dict[str, dict[str, Any]]] = {}

    def open(self) -> None:
        """Replay the journal into memory and get ready to append."""
        for record in self._journal.open():
            self._apply(record)

    def close(self) -> None:
        self._journal.close()

    def save(
        self,
        objects: Iterable[StripeObject] = (),
        idempotency_key: str | None = None,
        response: StoredResponse | None = None,
        records: Iterable[tuple[str, str, dict[str, Any] | None]] = (),
    ) -> None:
        """Record objects, sandbox records (kind, id, value; None deletes) and the answer given,
        as one journal line (all or nothing)."""
        entry: dict[str, Any] = {"objects": list(objects)}
        if idempotency_key is not None and response is not None:
            entry["idempotency_key"] = idempotency_key
            entry["response"] = asdict(response)
        entry_records = [list(item) for item in records]
        if entry_records:
            entry["records"] = entry_records
        self._journal.append(entry)
        self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        objects = list(entry.get("objects") or [])
        if "intent" in entry:  # journals written before objects other than intents existed
            objects.append(entry["intent"])
        for obj in objects:
            self._put(obj)
        key = entry.get("idempotency_key")
        if key is not None:
            self._responses[key] = StoredResponse(**entry["response"])
        for kind, record_id, value in entry.get("records") or []:
            by_id = self._records.setdefault(kind, {})
            if value is None:
                by_id.pop(record_id, None)
            else:
                by_id[record_id] = value

    def _put(self, obj: StripeObject) -> None:
        obj_id = obj["id"]
        if obj_id not in self._objects:
            order = self._order.setdefault(obj["object"], [])
            self._position[obj_id] = len(order)
            order.append(obj_id)
            if obj["object"] == "payment_intent":
                # Metadata is set at creation only (the sandbox has no update endpoint).
                for pair in (obj.get("metadata") or {}).items():
                    self._by_metadata.setdefault(pair, []).append(obj_id)
        self._objects[obj_id] = obj

    def get(self, obj_id: str, object_type: str) -> StripeObject | None:
        obj = self._objects.get(obj_id)
        return obj if obj is not None and obj["object"] == object_type else None

    def intent(self, intent_id: str) -> Intent | None:
        return self.get(intent_id, "payment_intent")

    def response(self, idempotency_key: str) -> StoredResponse | None:
        return self._responses.get(idempotency_key)

    def records(self, kind: str) -> dict[str, dict[str, Any]]:
        """The sandbox's records of one kind, by id (a copy: change them through save)."""
        return dict(self._records.get(kind, {}))

    def all(self, object_type: str) -> list[StripeObject]:
        """Every object of a type, oldest first."""
        return [self._objects[i] for i in self._order.get(object_type, [])]

    def page(
        self,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        object_type: str = "payment_intent",
        where: Callable[[StripeObject], bool] | None = None,
    ) -> Page:
        """Newest first, like Stripe's lists. Cursors must be ids of this type the store knows."""
        order = self._order.get(object_type, [])
        if where is None:
            return self._page_all(order, limit, starting_after, ending_before)
        order = [i for i in order if where(self._objects[i])]
        if ending_before is not None:
            # The `limit` objects just newer than the cursor, still listed newest first.
            pivot = self._position[ending_before]
            newer = [i for i in order if self._position[i] > pivot]
            ids = newer[:limit][::-1]
            return Page([self._objects[i] for i in ids], has_more=len(newer) > limit)
        if starting_after is not None:
            pivot = self._position[starting_after]
            order = [i for i in order if self._position[i] < pivot]
        ids = order[max(0, len(order) - limit) :][::-1]
        return Page([self._objects[i] for i in ids], has_more=len(order) > limit)

    def _page_all(
        self, order: list[str], limit: int, starting_after: str | None, ending_before: str | None
    ) -> Page:
        # Unfiltered: positions index `order` directly, so a page costs O(limit) however many
        # objects there are (the benchmark lists every intent, page by page).
        newest = len(order) - 1
        if ending_before is not None:
            low = self._position[ending_before] + 1
            high = min(newest, low + limit - 1)
            ids = order[low : high + 1][::-1]
            return Page([self._objects[i] for i in ids], has_more=high < newest)
        high = newest if starting_after is None else self._position[starting_after] - 1
        low = max(0, high - limit + 1)
        ids = order[low : high + 1][::-1] if high >= 0 else []
        return Page([self._objects[i] for i in ids], has_more=low > 0)

    def search(self, query: Query, limit: int, after: str | None = None) -> Page:
        """Intents matching `query`, newest first, starting after the intent id `after`."""
        candidates = self._order.get("payment_intent", [])
        for pair in query.metadata_equalities():
            indexed = self._by_metadata.get(pair, [])
            if len(indexed) < len(candidates):
                candidates = indexed
        below = self._position[after] if after is not None else len(self._position) + 1
        found: list[Intent] = []
        for intent_id in reversed(candidates):
            if self._position[intent_id] >= below:
                continue
            intent = self._objects[intent_id]
            if query.matches(intent):
                if len(found) == limit:
                    return Page(found, has_more=True)
                found.append(intent)
        return Page(found, has_more=False)

    def count(self, query: Query) -> int:
        return sum(1 for intent in self.all("payment_intent") if query.matches(intent))
