"""The `payout-executor` consumer: `payout.reserved` → have the provider pay it (asking it
first whether an earlier attempt did). A provider or wallet out of reach is retried with
backoff; the sweeper finishes whatever is left."""

from __future__ import annotations

from mesh.consuming import open_envelope
from mesh.errors import ServiceError
from mesh.events import PAYOUT_RESERVED
from mesh.jetstream import ConsumerSpec, Handler, Poison, Retry
from paymesh.events.v1 import events_pb2
from payout_svc.domain import PayoutProvider, ProviderUnavailable
from payout_svc.service_layer.payouts import NewUow, submit
from payout_svc.service_layer.ports import Clock, Holds, WalletUnavailable

EXECUTOR = "payout-executor"


def executor_spec(concurrency: int) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYOUT", durable=EXECUTOR, subject=PAYOUT_RESERVED, concurrency=concurrency
    )


def executor_handler(
    new_uow: NewUow, holds: Holds, provider: PayoutProvider, clock: Clock
) -> Handler:
    async def handle(envelope: events_pb2.Envelope) -> None:
        event = open_envelope(envelope, PAYOUT_RESERVED, events_pb2.PayoutReserved)
        if not event.payout_id:
            raise Poison("payout_id is required")
        try:
            await submit(new_uow, holds, provider, clock, event.payout_id)
        except (ProviderUnavailable, WalletUnavailable) as err:
            raise Retry(str(err)) from err
        except ServiceError as err:
            if err.reason == "UNAVAILABLE":  # the wallet, while settling the hold
                raise Retry(str(err)) from err
            raise

    return handle
