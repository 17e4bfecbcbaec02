"""recon_svc in-process beside the mesh of payment, wallet and ledger (buckets_mesh), and the
reads its tests make: a run of today followed to its end, the queue, and the sandbox's report
of today's charges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from buckets_mesh import API_KEY
from buckets_mesh import Mesh as BucketMesh
from harness import Started, eventually, new_request_id, started_service

from paymesh.recon.v1 import recon_pb2, recon_pb2_grpc
from recon_svc.bootstrap import start as start_recon
from recon_svc.settings import ReconSettings

R = recon_pb2


@dataclass
class ReconMesh:
    base: BucketMesh
    recon: Started

    @property
    def stub(self) -> recon_pb2_grpc.ReconServiceStub:
        return recon_pb2_grpc.ReconServiceStub(self.recon.channel)

    async def run(self, request_id: str | None = None) -> R.Run:
        """A run of today (the sandbox's balance transactions are made now), followed to its end."""
        started = await self.stub.StartRun(
            R.StartRunRequest(
                request_id=request_id or new_request_id(),
                period=datetime.now(UTC).date().isoformat(),
            ),
            timeout=10,
        )

        async def finished() -> R.Run | None:
            reply = await self.stub.GetRun(R.GetRunRequest(run_id=started.run.run_id), timeout=10)
            return reply.run if reply.run.status != R.RUN_STATUS_RUNNING else None

        return await eventually(finished, within=60)  # type: ignore[no-any-return]

    async def queue(self, **filters: object) -> list[R.Mismatch]:
        reply = await self.stub.ListMismatches(R.ListMismatchesRequest(**filters), timeout=10)  # type: ignore[arg-type]
        return list(reply.mismatches)


def recon_service(base: BucketMesh, database_url: str, nats_url: str, scratch: Path):  # type: ignore[no-untyped-def]
    payment_addr = base.payment.channel._channel.target.decode()
    ledger_addr = base.ledger.channel._channel.target.decode()

    def settings(grpc_addr: str) -> ReconSettings:
        return ReconSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            payment_grpc_addr=payment_addr,
            ledger_grpc_addr=ledger_addr,
            internal_recheck_s=0.5,
            psp_api_base=base.psp_base,
            psp_api_key=API_KEY,
            scratch_dir=scratch,
            db_pool_size=4,
        )

    return started_service("recon_svc", "recon", start_recon, settings, database_url, nats_url)


async def succeeded_at_psp(base: BucketMesh, count: int) -> None:
    async def settled() -> bool:
        async with httpx.AsyncClient(base_url=base.psp_base) as client:
            reply = await client.get(
                "/_sandbox/reports/settlement",
                params={"date": datetime.now(UTC).date().isoformat()},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
        return reply.text.count("\ncharge,") + reply.text.count(",charge,") >= count

    await eventually(settled, within=30)
