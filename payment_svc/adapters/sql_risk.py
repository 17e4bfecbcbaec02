"""The risk repository on PostgreSQL (service_layer.risk_ports): velocity counted over the
checkouts themselves under transaction-scoped advisory locks, and the decisions table."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.at_commit import Statement
from mesh.db import pipelined
from payment_svc.adapters.tables import risk_decisions
from payment_svc.domain.risk import Outcome, RecentActivity, RiskDecision, RuleOutcome, Tally
from payment_svc.service_layer.risk_ports import RiskRecord, RiskRepository

# A buyer's and a token's checkouts after `since`: the count of each (the row without a
# currency) and the amount per currency. One statement, on the indexes of migration 0007.
_RECENT_SQL = """
    WITH recent AS (
        SELECT 'buyer' AS counted_by, e.checkout_id
          FROM payment_events e
         WHERE e.buyer_id = %(buyer_id)s AND e.created_at > %(since)s
        UNION ALL
        SELECT 'payment_method', e.checkout_id
          FROM payment_events e
         WHERE e.payment_method = %(payment_method)s AND e.payment_method <> ''
           AND e.created_at > %(since)s
    )
    SELECT r.counted_by, o.currency, count(DISTINCT r.checkout_id), sum(o.amount)
      FROM recent r JOIN payment_orders o ON o.checkout_id = r.checkout_id
     GROUP BY GROUPING SETS ((r.counted_by), (r.counted_by, o.currency))
    """

# Sent with the COMMIT (mesh/at_commit.py), hence psycopg placeholders.
_ADD_DECISION = """
INSERT INTO risk_decisions
       (checkout_id, buyer_id, payment_method, request_id, outcome, rule, rules, decided_at)
VALUES (%(checkout_id)s, %(buyer_id)s, %(payment_method)s, %(request_id)s, %(outcome)s,
        %(rule)s, %(rules)s::jsonb, %(decided_at)s)
"""


# The lock statements for one key and for two (buyer, token), written once.
_LOCKS = {
    n: "SELECT " + ", ".join(f"pg_advisory_xact_lock(%(k{i})s::bigint)" for i in range(n))
    for n in (1, 2)
}


def lock_key(kind: str, value: str) -> int:
    """A 64-bit advisory lock key for a buyer or a token (namespaced, so the two never meet)."""
    digest = hashlib.blake2b(f"paymesh.risk:{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def rules_to_json(rules: tuple[RuleOutcome, ...]) -> str:
    return json.dumps(
        [{"rule": r.rule, "outcome": r.outcome.value, "figures": dict(r.figures)} for r in rules]
    )


def rules_from_json(rows: list[dict[str, Any]]) -> tuple[RuleOutcome, ...]:
    return tuple(RuleOutcome(r["rule"], Outcome(r["outcome"]), r["figures"]) for r in rows)


class SqlRiskRepository(RiskRepository):
    def __init__(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        self.conn = conn
        self.at_commit = at_commit

    async def lock_recent_activity(
        self, buyer_id: str, payment_method: str, since: datetime
    ) -> RecentActivity:
        # Taken in key order, so two checkouts sharing a buyer and a token never deadlock;
        # held to COMMIT. The count is a statement of its own: its snapshot is taken after the
        # locks are granted, so it sees the checkout of whoever held them before. The two are
        # sent in one round trip (with the BEGIN): the server still runs them one after the
        # other, the count only once the locks are granted.
        keys = sorted(
            {lock_key("buyer", buyer_id)}
            | ({lock_key("payment_method", payment_method)} if payment_method else set())
        )
        locks = _LOCKS[len(keys)]
        _, rows = await pipelined(
            self.conn,
            [
                (locks, {f"k{i}": k for i, k in enumerate(keys)}),
                (
                    _RECENT_SQL,
                    {"buyer_id": buyer_id, "payment_method": payment_method, "since": since},
                ),
            ],
        )
        counts: dict[str, int] = {}
        amounts: dict[str, dict[str, Decimal]] = {"buyer": {}, "payment_method": {}}
        for row in rows:
            counted_by, currency, checkouts, amount = row.values()
            if currency is None:
                counts[counted_by] = checkouts
            else:
                amounts[counted_by][currency] = amount
        return RecentActivity(
            Tally(counts.get("buyer", 0), amounts["buyer"]),
            Tally(counts.get("payment_method", 0), amounts["payment_method"]),
        )

    async def add_decision(self, record: RiskRecord) -> None:
        self.at_commit.append(
            (
                _ADD_DECISION,
                {
                    "checkout_id": record.checkout_id,
                    "buyer_id": record.buyer_id,
                    "payment_method": record.payment_method,
                    "request_id": record.request_id,
                    "outcome": record.decision.outcome.value,
                    "rule": record.decision.rule,
                    "rules": rules_to_json(record.decision.rules),
                    "decided_at": record.decided_at,
                },
            )
        )

    async def decision_of(self, checkout_id: str) -> RiskRecord | None:
        row = (
            (
                await self.conn.execute(
                    select(risk_decisions)
                    .where(
                        risk_decisions.c.checkout_id == checkout_id,
                        risk_decisions.c.outcome == Outcome.ALLOW.value,
                    )
                    .order_by(risk_decisions.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return RiskRecord(
            checkout_id=row["checkout_id"],
            buyer_id=row["buyer_id"],
            payment_method=row["payment_method"],
            request_id=row["request_id"],
            decision=RiskDecision(
                Outcome(row["outcome"]), row["rule"], "", rules_from_json(row["rules"])
            ),
            decided_at=row["decided_at"],
        )
