"""Sellers' payout settings: create, read, change."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from mesh.errors import FieldViolation, already_exists, invalid_argument, not_found
from payout_svc.domain import InvalidSettings, Schedule, Seller
from payout_svc.service_layer.ports import PayoutUnitOfWork


def _checked(build: Callable[[], Seller]) -> Seller:
    try:
        return build()
    except InvalidSettings as err:
        raise invalid_argument(
            [FieldViolation(err.field_name, "payout.settings", str(err))]
        ) from None


async def create_seller(uow: PayoutUnitOfWork, seller: Seller) -> Seller:
    """Register a seller; ALREADY_EXISTS when it is registered with other settings (the same
    settings again answer as the first time)."""
    async with uow:
        if not await uow.payouts.add_seller(seller):
            found = await uow.payouts.get_seller(seller.seller_account)
            if found == seller:
                return seller
            raise already_exists(
                f"seller {seller.seller_account} exists; change its settings with PATCH",
                {"seller_account": seller.seller_account},
            )
        await uow.commit()
    return seller


async def get_seller(uow: PayoutUnitOfWork, seller_account: str) -> Seller:
    async with uow:
        seller = await uow.payouts.get_seller(seller_account)
    if seller is None:
        raise not_found("seller_account", seller_account)
    return seller


async def update_seller(
    uow: PayoutUnitOfWork,
    seller_account: str,
    *,
    destination: str | None = None,
    schedule: Schedule | None = None,
    weekday: int | None = None,
    day_of_month: int | None = None,
    minimums: dict[str, Decimal] | None = None,
) -> Seller:
    """Change the settings given (None: unchanged). NOT_FOUND for an unknown seller."""
    async with uow:
        seller = await uow.payouts.get_seller(seller_account)
        if seller is None:
            raise not_found("seller_account", seller_account)
        updated = _checked(
            lambda: Seller(
                seller.seller_account,
                seller.destination if destination is None else destination,
                seller.schedule if schedule is None else schedule,
                seller.weekday if weekday is None else weekday,
                seller.day_of_month if day_of_month is None else day_of_month,
                seller.minimums if minimums is None else minimums,
            )
        )
        await uow.payouts.save_seller(updated)
        await uow.commit()
    return updated


def new_seller(
    seller_account: str,
    destination: str,
    schedule: Schedule,
    weekday: int,
    day_of_month: int,
    minimums: dict[str, Decimal],
) -> Seller:
    """A seller from a request; INVALID_ARGUMENT naming the field when a setting is invalid."""
    return _checked(
        lambda: Seller(seller_account, destination, schedule, weekday, day_of_month, minimums)
    )
