"""recon's store on PostgreSQL (SQLAlchemy Core over the service's async engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import and_, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.outbox import enqueue
from recon_svc.adapters.tables import fixes, mismatches, outbox, resolutions, runs
from recon_svc.domain.classes import MismatchClass
from recon_svc.domain.events import MismatchOpened, mismatch_opened
from recon_svc.domain.queue import (
    DecisionInProgress,
    MismatchStatus,
    Resolution,
    ResolutionAction,
    StoredMismatch,
)
from recon_svc.domain.run import Run, RunStatus
from recon_svc.service_layer.ports import MismatchQuery, ReconStore


def _run(row: Any) -> Run:
    return Run(
        run_id=row.run_id,
        period=row.period,
        source=row.source,
        status=RunStatus(row.status),
        started_by=row.started_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        report=dict(row.report),
        error=row.error,
        progress=row.progress,
    )


def _mismatch(row: Any) -> StoredMismatch:
    return StoredMismatch(
        mismatch_id=row.mismatch_id,
        key=row.key,
        type=row.type,
        detail=row.detail,
        mismatch_class=MismatchClass(row._mapping["class"]),
        status=MismatchStatus(row.status),
        period=row.period,
        first_run_id=row.first_run_id,
        last_run_id=row.last_run_id,
        evidence=dict(row.evidence),
        suggested_action=row.suggested_action,
        reason=row.reason,
        fix_rule=row.fix_rule,
        created_at=row.created_at,
    )


# An event as (subject, aggregate id, payload): recon_svc.entrypoints.outgoing.encode_event.
EncodeEvent = Callable[[MismatchOpened], tuple[str, str, Message]]


class SqlReconStore(ReconStore):
    def __init__(
        self,
        engine: AsyncEngine,
        encode: EncodeEvent,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._encode = encode
        self._after_commit = after_commit  # wakes the outbox relay

    async def add_run(self, run: Run, caller: str, request_id: str) -> Run:
        async with self._engine.begin() as conn:
            if request_id:
                row = (
                    await conn.execute(
                        select(runs).where(runs.c.caller == caller, runs.c.request_id == request_id)
                    )
                ).first()
                if row:
                    return _run(row)
            # A run left RUNNING by a process that died (kill -9) is given up after an hour
            # (a run of 10^6 rows takes a minute), so the period can be run again.
            await conn.execute(
                update(runs)
                .where(
                    runs.c.period == run.period,
                    runs.c.source == run.source,
                    runs.c.status == RunStatus.RUNNING.value,
                    runs.c.updated_at < func.now() - text("interval '1 hour'"),
                )
                .values(status=RunStatus.FAILED.value, error="abandoned: its process stopped")
            )
            inserted = (
                await conn.execute(
                    insert(runs)
                    .values(
                        run_id=run.run_id,
                        period=run.period,
                        source=run.source,
                        status=run.status.value,
                        started_by=run.started_by,
                        caller=caller,
                        request_id=request_id or None,
                        started_at=run.started_at,
                    )
                    .on_conflict_do_nothing()
                    .returning(runs.c.run_id)
                )
            ).first()
            if inserted:
                return run
            # Either the same request raced us, or a run of the period and source is running.
            running = and_(
                runs.c.period == run.period,
                runs.c.source == run.source,
                runs.c.status == RunStatus.RUNNING.value,
            )
            same_request = and_(runs.c.caller == caller, runs.c.request_id == request_id)
            row = (
                await conn.execute(
                    select(runs).where(or_(same_request, running) if request_id else running)
                )
            ).first()
            if row is None:  # it finished meanwhile: a new run after all
                return await self.add_run(run, caller, request_id)
            return _run(row)

    async def get_run(self, run_id: str) -> Run | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.run_id == run_id))).first()
        return _run(row) if row else None

    async def has_run(self, period: date, source: str) -> bool:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(runs.c.run_id).where(
                        runs.c.period == period,
                        runs.c.source == source,
                        runs.c.status.in_([RunStatus.RUNNING.value, RunStatus.SUCCEEDED.value]),
                    )
                )
            ).first()
        return row is not None

    async def save_run(self, run: Run) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(runs)
                .where(runs.c.run_id == run.run_id)
                .values(
                    status=run.status.value,
                    finished_at=run.finished_at,
                    report=run.report,
                    error=run.error,
                    progress=run.progress,
                    updated_at=func.now(),
                )
            )

    async def record_mismatches(self, run_id: str, found: Sequence[StoredMismatch]) -> int:
        rows = [
            {
                "mismatch_id": m.mismatch_id,
                "key": m.key,
                "type": m.type,
                "detail": m.detail,
                "class": int(m.mismatch_class),
                "status": m.status.value,
                "period": m.period,
                "first_run_id": m.first_run_id,
                "last_run_id": m.last_run_id,
                "evidence": m.evidence,
                "suggested_action": m.suggested_action,
                "reason": m.reason,
                "fix_rule": m.fix_rule,
                "created_at": m.created_at,
            }
            for m in found
        ]
        async with self._engine.begin() as conn:
            statement = insert(mismatches).values(rows)
            # A known mismatch is only marked as seen: its status, class and evidence stay.
            statement = statement.on_conflict_do_update(
                index_elements=[mismatches.c.key],
                set_={"last_run_id": statement.excluded.last_run_id, "updated_at": func.now()},
            ).returning(mismatches.c.mismatch_id, mismatches.c.first_run_id)
            result = list(await conn.execute(statement))
            # A row inserted now keeps the id it was given; a known one answers with its own.
            given = {m.mismatch_id: m for m in found}
            opened = [given[mismatch_id] for (mismatch_id, _) in result if mismatch_id in given]
            for mismatch in opened:
                await enqueue(conn, outbox, *self._encode(mismatch_opened(mismatch)))
        if opened:
            self._after_commit()
        return sum(1 for (_, first) in result if first == run_id)

    async def open_fixes(self, run_id: str) -> list[StoredMismatch]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(mismatches)
                .where(
                    mismatches.c.last_run_id == run_id,
                    mismatches.c.status == MismatchStatus.OPEN.value,
                    mismatches.c["class"] == int(MismatchClass.AUTO_FIXED),
                )
                .order_by(mismatches.c.created_at, mismatches.c.mismatch_id)
            )
            return [_mismatch(r) for r in rows]

    async def mark_fixed(self, mismatch_id: str, run_id: str, rule: str, outcome: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(mismatches)
                .where(mismatches.c.mismatch_id == mismatch_id)
                .values(status=MismatchStatus.FIXED.value, updated_at=func.now())
            )
            await conn.execute(
                insert(fixes).values(
                    mismatch_id=mismatch_id, run_id=run_id, rule=rule, outcome=outcome
                )
            )

    async def record_run_fix(self, run_id: str, rule: str, outcome: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(fixes).values(run_id=run_id, rule=rule, outcome=outcome))

    async def get_mismatch(self, mismatch_id: str) -> StoredMismatch | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(mismatches).where(mismatches.c.mismatch_id == mismatch_id)
                )
            ).first()
            if row is None:
                return None
            found = _mismatch(row)
            for r in await conn.execute(
                select(resolutions)
                .where(resolutions.c.mismatch_id == mismatch_id)
                .order_by(resolutions.c.id)
            ):
                found.resolutions.append(
                    Resolution(
                        ResolutionAction(r.action), r.resolved_by, r.resolved_at, r.note, r.outcome
                    )
                )
            return found

    async def list_mismatches(self, query: MismatchQuery) -> list[StoredMismatch]:
        statement = select(mismatches)
        if query.status:
            statement = statement.where(mismatches.c.status == query.status)
        if query.mismatch_class:
            statement = statement.where(mismatches.c["class"] == query.mismatch_class)
        if query.type:
            statement = statement.where(mismatches.c.type == query.type)
        if query.run_id:
            statement = statement.where(
                or_(
                    mismatches.c.first_run_id == query.run_id,
                    mismatches.c.last_run_id == query.run_id,
                )
            )
        if query.before is not None:
            statement = statement.where(
                tuple_(mismatches.c.created_at, mismatches.c.mismatch_id) < query.before
            )
        statement = statement.order_by(
            mismatches.c.created_at.desc(), mismatches.c.mismatch_id.desc()
        ).limit(query.limit)
        async with self._engine.connect() as conn:
            return [_mismatch(r) for r in await conn.execute(statement)]

    @asynccontextmanager
    async def deciding(self, mismatch_id: str) -> AsyncIterator[None]:
        # A session advisory lock on a connection of its own, outside any transaction (nothing
        # is held open while the payment service, the ledger or the PSP answers); it goes with
        # the connection if the process dies.
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            key = {"key": f"recon-decision:{mismatch_id}"}
            held = await conn.scalar(
                text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), key
            )
            if not held:
                raise DecisionInProgress(mismatch_id)
            try:
                yield
            finally:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), key
                )

    async def find_resolution(self, mismatch_id: str, request_id: str) -> bool:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(resolutions.c.id).where(
                        resolutions.c.mismatch_id == mismatch_id,
                        resolutions.c.request_id == request_id,
                    )
                )
            ).first()
        return row is not None

    async def add_resolution(
        self,
        mismatch_id: str,
        request_id: str,
        resolution: Resolution,
        new_status: MismatchStatus | None,
    ) -> bool:
        async with self._engine.begin() as conn:
            if new_status is not None:
                moved = await conn.execute(
                    update(mismatches)
                    .where(
                        mismatches.c.mismatch_id == mismatch_id,
                        mismatches.c.status == MismatchStatus.OPEN.value,
                    )
                    .values(status=new_status.value, updated_at=func.now())
                    .returning(mismatches.c.mismatch_id)
                )
                if moved.first() is None:
                    return False
            added = await conn.execute(
                insert(resolutions)
                .values(
                    mismatch_id=mismatch_id,
                    request_id=request_id,
                    action=resolution.action.value,
                    resolved_by=resolution.resolved_by,
                    note=resolution.note,
                    outcome=resolution.outcome,
                    resolved_at=resolution.resolved_at,
                )
                .on_conflict_do_nothing()
                .returning(resolutions.c.id)
            )
            if added.first() is None:
                await conn.rollback()
                return False
            return True
