"""Starting orders together: the executor's NOT_STARTED → EXECUTING step for the orders whose
messages arrive together, in one transaction and one statement (group commit).

The first order to arrive starts a flush at the next turn of the event loop; the orders that
arrive while a flush is in flight wait for the next one, so a busy executor starts its orders in
batches as large as its load and an idle one waits for nothing. What a batch did not start (not
NOT_STARTED, hosted, held by another transaction) is handed back as None, and its executor goes
the one-by-one way (execute_order._begin), which knows every other case. The claims commit
before any PSP call, as one by one: a crash after the commit leaves the orders EXECUTING, and
their redelivery asks the PSP first."""

from __future__ import annotations

import asyncio

from payment_svc.service_layer.ports import Clock, OrderToCharge, UnitOfWorkFactory

MAX_BATCH = 128


class StartBatch:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, limit: int = MAX_BATCH) -> None:
        self.uow = uow
        self.clock = clock
        self.limit = limit
        self._waiting: dict[str, list[asyncio.Future[OrderToCharge | None]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def start(self, payment_order_id: str) -> OrderToCharge | None:
        """The order, now EXECUTING and ours to charge; None when the batch did not start it.
        Raises what the batch's transaction raised (nothing committed then)."""
        future: asyncio.Future[OrderToCharge | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(payment_order_id, []).append(future)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_all())
        return await future

    async def _flush_all(self) -> None:
        try:
            await asyncio.sleep(0)  # the messages delivered with this one join it
            while self._waiting:
                ids = list(self._waiting)[: self.limit]
                batch = {i: self._waiting.pop(i) for i in ids}
                await self._flush(batch)
        finally:
            self._flusher = None

    async def _flush(self, batch: dict[str, list[asyncio.Future[OrderToCharge | None]]]) -> None:
        try:
            async with self.uow() as tx:
                started = await tx.repo.start_executions(list(batch), self.clock())
                await tx.commit()
        except Exception as err:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(err)
            return
        for payment_order_id, futures in batch.items():
            for i, future in enumerate(futures):
                if not future.done():
                    # A duplicate delivery of the same order goes the one-by-one way.
                    future.set_result(started.get(payment_order_id) if i == 0 else None)
