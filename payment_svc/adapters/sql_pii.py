"""Buyer PII in the `payment_events` table: sealed on write, opened on read, erased on request,
and re-sealed under the active key (rotation, and rows stored in clear before migration 0006).
Only this module and adapters.pii_cipher see the stored form of PII."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_svc.adapters.pii_cipher import PiiCipher, PiiUnreadable, SealedPii
from payment_svc.adapters.tables import payment_events

log = logging.getLogger(__name__)

RESEAL_BATCH = 500
e = payment_events.c


def sealed_columns(cipher: PiiCipher, checkout_id: str, email: str, name: str) -> dict[str, Any]:
    """The stored columns of a new checkout's PII."""
    sealed = cipher.seal(checkout_id, email, name)
    return {
        "buyer_email": sealed.buyer_email,
        "buyer_name": sealed.buyer_name,
        "buyer_pii_key_id": sealed.key_id,
    }


def open_pii(cipher: PiiCipher, row: RowMapping) -> tuple[str, str]:
    """(e-mail, name) of a `payment_events` row in clear; ("", "") when it cannot be opened (the
    reason is logged, without the values: a missing key must not stop a read of the money)."""
    if row["buyer_pii_key_id"] is None:  # clear: stored before 0006, or erased ("")
        return row["buyer_email"], row["buyer_name"]
    sealed = SealedPii(row["buyer_pii_key_id"], row["buyer_email"], row["buyer_name"])
    try:
        return cipher.open(row["checkout_id"], sealed)
    except PiiUnreadable as err:
        log.warning("buyer PII not shown: %s", err)
        return "", ""


async def erase_buyer(conn: AsyncConnection, buyer_id: str, at: datetime) -> int:
    """Erase the e-mail and name of every checkout of `buyer_id`; how many of the buyer's
    checkouts hold no PII now (erased before included, so a repeat answers the same). Amounts,
    orders, their history and the ledger are other tables: untouched."""
    await conn.execute(
        update(payment_events)
        .where(e.buyer_id == buyer_id, e.buyer_pii_erased_at.is_(None))
        .values(buyer_email="", buyer_name="", buyer_pii_key_id=None, buyer_pii_erased_at=at)
    )
    erased = await conn.execute(
        select(func.count())
        .select_from(payment_events)
        .where(e.buyer_id == buyer_id, e.buyer_pii_erased_at.is_not(None))
    )
    return int(erased.scalar_one())


async def reseal_all(engine: AsyncEngine, cipher: PiiCipher, batch: int = RESEAL_BATCH) -> int:
    """Seal under the active key every row that is not yet (clear rows from before 0006, rows
    under an older key), a batch per transaction, walking the primary key once. How many rows
    were re-sealed. Rows under a key that is not configured are left as they are, and logged."""
    done, after = 0, ""
    while True:
        async with engine.begin() as conn:
            rows = (
                (
                    await conn.execute(
                        select(e.checkout_id, e.buyer_email, e.buyer_name, e.buyer_pii_key_id)
                        .where(
                            e.checkout_id > after,
                            e.buyer_pii_erased_at.is_(None),
                            e.buyer_pii_key_id.is_distinct_from(cipher.active_key_id),
                        )
                        .order_by(e.checkout_id)
                        .limit(batch)
                        # FOR NO KEY UPDATE: orders being written keep their key-share lock on it.
                        .with_for_update(key_share=True, skip_locked=True)
                    )
                )
                .mappings()
                .all()
            )
            for row in rows:
                done += await _reseal(conn, cipher, row)
        if len(rows) < batch:
            return done
        after = rows[-1]["checkout_id"]


async def _reseal(conn: AsyncConnection, cipher: PiiCipher, row: RowMapping) -> int:
    if row["buyer_pii_key_id"] is None:
        email, name = row["buyer_email"], row["buyer_name"]
    else:
        sealed = SealedPii(row["buyer_pii_key_id"], row["buyer_email"], row["buyer_name"])
        try:
            email, name = cipher.open(row["checkout_id"], sealed)
        except PiiUnreadable as err:
            log.error("cannot re-seal buyer PII: %s", err)
            return 0
    await conn.execute(
        update(payment_events)
        .where(e.checkout_id == row["checkout_id"])
        .values(**sealed_columns(cipher, row["checkout_id"], email, name))
    )
    return 1
