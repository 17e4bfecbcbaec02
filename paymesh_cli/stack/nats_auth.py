"""NATS users of the dev stack: one per service, allowed to publish only its own events and to
consume only through its own durable consumers; and an operator user that may do anything.

A service reaches JetStream through its API subjects, so its rights are spelled out as those:
stream info/create/update (every service ensures the mesh's streams at start), its consumers'
info/create/next-message, acks of its consumers' messages, and replies on `_INBOX.>`. Deleting
or purging a stream, or deleting a message or a consumer, is nobody's right but the operator's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger_svc.service_layer.moves import MOVE_CONSUMER as LEDGER_MOVE
from ledger_svc.service_layer.refunds import REFUND_CONSUMER as LEDGER_REFUND
from ledger_svc.service_layer.use_cases import POST_CONSUMER as LEDGER_POST
from mesh.alerts import ALERT_SUBJECT, OPS_STREAM
from mesh.dead_letters import DLQ_STREAM
from mesh.jetstream import STREAMS
from notify_svc.service_layer.events import EVENTS_CONSUMER as NOTIFY_EVENTS
from notify_svc.service_layer.events import PAYOUT_EVENTS_CONSUMER as NOTIFY_PAYOUT_EVENTS
from notify_svc.service_layer.events import RECON_EVENTS_CONSUMER as NOTIFY_RECON_EVENTS
from payment_svc.entrypoints.alert_consumer import ALERT_KEEPER
from payment_svc.entrypoints.consumers import EXECUTOR, LEDGER_FLAG, WALLET_FLAG
from payment_svc.entrypoints.refund_consumer import REFUND_EXECUTOR
from paymesh_cli.stack.secrets import write_private
from payout_svc.entrypoints.executor import EXECUTOR as PAYOUT_EXECUTOR
from wallet_svc.service_layer.refunds import REFUND_CONSUMER as WALLET_REFUND
from wallet_svc.service_layer.releases import RELEASE_CONSUMER as WALLET_RELEASE
from wallet_svc.service_layer.use_cases import CREDIT_CONSUMER as WALLET_CREDIT

OPERATOR = "operator"
# What a dead letter may be replayed on: every event subject of the mesh (not ops.>: alerts
# are never dead-lettered for replay).
REPLAYABLE = ("payment.>", "wallet.>", "ledger.>", "payout.>", "recon.>")
NEVER = [
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.CONSUMER.DELETE.>",
]


@dataclass(frozen=True)
class NatsRights:
    """What one service does on NATS: the subjects it publishes its events on, and its durable
    consumers as (stream, durable). Its dead letters go to `dlq.<durable>`."""

    publishes: tuple[str, ...]
    consumers: tuple[tuple[str, str], ...]
    # The payment service serves the operator's dead-letter tools (OpsService, ADR 0015): it
    # reads and deletes messages of the DLQ stream (of no other) and replays them on their
    # original subjects, whichever service's events they are.
    serves_dead_letters: bool = False

    def publish_allow(self) -> list[str]:
        # Every service publishes the alerts its checks raise (mesh.alerts).
        allow = [*self.publishes, ALERT_SUBJECT, "$JS.API.INFO", "$JS.API.STREAM.INFO.*"]
        if self.serves_dead_letters:
            allow += [s for s in REPLAYABLE if s not in self.publishes]
            allow += [f"$JS.API.STREAM.MSG.GET.{DLQ_STREAM}"]
            allow += [f"$JS.API.STREAM.MSG.DELETE.{DLQ_STREAM}"]
        allow += ["$JS.API.STREAM.CREATE.*", "$JS.API.STREAM.UPDATE.*"]
        for stream, durable in self.consumers:
            allow += [
                f"dlq.{durable}",
                f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
                f"$JS.ACK.{stream}.{durable}.>",
            ]
        return allow

    def publish_deny(self) -> list[str]:
        if not self.serves_dead_letters:
            return NEVER
        # Deleting a message stays refused on every stream but the DLQ.
        others = [f"$JS.API.STREAM.MSG.DELETE.{s}" for s in STREAMS if s != DLQ_STREAM]
        return [d for d in NEVER if d != "$JS.API.STREAM.MSG.DELETE.>"] + others


# Per service (its NATS user name): payment_svc publishes payment.* (orders, refunds) and
# consumes its own order/refund events and the wallet's and ledger's answers; wallet_svc and
# ledger_svc publish their answers and consume payment.order.succeeded / refund.succeeded;
# notify_svc consumes every payment event for the marketplace's webhooks.
SERVICE_RIGHTS: Mapping[str, NatsRights] = {
    "payment_svc": NatsRights(
        publishes=("payment.>",),
        consumers=(
            ("PAYMENT", EXECUTOR),
            ("PAYMENT", REFUND_EXECUTOR),
            ("WALLET", WALLET_FLAG),
            ("LEDGER", LEDGER_FLAG),
            (OPS_STREAM, ALERT_KEEPER),
        ),
        serves_dead_letters=True,
    ),
    "wallet_svc": NatsRights(
        publishes=("wallet.>",),
        consumers=(
            ("PAYMENT", WALLET_CREDIT),
            ("PAYMENT", WALLET_REFUND),
            ("PAYMENT", WALLET_RELEASE),
        ),
    ),
    "ledger_svc": NatsRights(
        publishes=("ledger.>",),
        consumers=(
            ("PAYMENT", LEDGER_POST),
            ("PAYMENT", LEDGER_REFUND),
            ("WALLET", LEDGER_MOVE),
        ),
    ),
    # payout_svc publishes payout.reserved and consumes it (its executor), and payout.paid /
    # payout.failed for the marketplace.
    "payout_svc": NatsRights(publishes=("payout.>",), consumers=(("PAYOUT", PAYOUT_EXECUTOR),)),
    # recon_svc publishes recon.mismatch.opened for the marketplace and consumes nothing: it
    # reads the PSP's report and paymesh's orders, and fixes through the payment service's RPCs.
    "recon_svc": NatsRights(publishes=("recon.>",), consumers=()),
    # notify_svc publishes nothing: it reads payment, payout and reconciliation events and calls
    # the marketplace.
    "notify_svc": NatsRights(
        publishes=(),
        consumers=(
            ("PAYMENT", NOTIFY_EVENTS),
            ("PAYOUT", NOTIFY_PAYOUT_EVENTS),
            ("RECON", NOTIFY_RECON_EVENTS),
        ),
    ),
}


def nats_config(passwords: Mapping[str, str]) -> str:
    """The `authorization` block of nats-server's configuration: a user per service of
    SERVICE_RIGHTS and the operator, with `passwords` by user name. Without a user, nobody
    connects."""
    users: list[dict[str, object]] = [{"user": OPERATOR, "password": passwords[OPERATOR]}]
    for name, rights in SERVICE_RIGHTS.items():
        users.append(
            {
                "user": name,
                "password": passwords[name],
                "permissions": {
                    "publish": {"allow": rights.publish_allow(), "deny": rights.publish_deny()},
                    "subscribe": {"allow": ["_INBOX.>"]},
                },
            }
        )
    # nats-server's configuration format accepts JSON.
    return json.dumps({"authorization": {"users": users}}, indent=2) + "\n"


def write_nats_config(path: Path, passwords: Mapping[str, str]) -> Path:
    """Write the configuration (it holds passwords: mode 0600) and return its path."""
    write_private(path, nats_config(passwords))
    return path
