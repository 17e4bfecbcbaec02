"""The stored risk decision as a proto (GetCheckoutResponse.risk_decision), and who may see it:
callers whose API key has the `ops` scope, which the gateway forwards as the metadata
`x-paymesh-key-scopes` (comma-separated; believed only from the gateway's certificate:
mesh.grpc_server)."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mesh.grpc_server import current_caller
from payment_svc.domain.risk import Outcome
from payment_svc.service_layer.risk_ports import RiskRecord
from paymesh.payment.v1 import payment_pb2

SCOPES_METADATA = "x-paymesh-key-scopes"
OPS_SCOPE = "ops"

OUTCOME_TO_PROTO: dict[Outcome, int] = {
    Outcome.ALLOW: payment_pb2.RISK_OUTCOME_ALLOW,
    Outcome.DENY: payment_pb2.RISK_OUTCOME_DENY,
    Outcome.SKIP: payment_pb2.RISK_OUTCOME_SKIP,
}


def caller_scopes(context: grpc.aio.ServicerContext) -> frozenset[str]:
    """The scopes of the API key the gateway authenticated; none for any other caller (a
    process of the mesh without the gateway's certificate may not claim `ops`)."""
    return frozenset(current_caller().scopes)


def may_see_risk(context: grpc.aio.ServicerContext) -> bool:
    return OPS_SCOPE in caller_scopes(context)


def risk_decision_to_proto(record: RiskRecord) -> payment_pb2.RiskDecision:
    decided_at = Timestamp()
    decided_at.FromDatetime(record.decided_at)
    return payment_pb2.RiskDecision(
        outcome=OUTCOME_TO_PROTO[record.decision.outcome],  # type: ignore[arg-type]
        rule=record.decision.rule,
        rules=[
            payment_pb2.RiskRuleResult(
                rule=r.rule,
                outcome=OUTCOME_TO_PROTO[r.outcome],  # type: ignore[arg-type]
                figures=dict(r.figures),
            )
            for r in record.decision.rules
        ],
        decided_at=decided_at,
    )
