"""Registering, reading and disabling the marketplace's endpoints."""

from __future__ import annotations

import base64
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from notify_svc.domain.endpoint import check_url
from notify_svc.service_layer.ports import Endpoint, NewEndpoint, NotifyUnitOfWork

log = logging.getLogger(__name__)

_ENDPOINT_ID_NAMESPACE = uuid.UUID("6f0a3c55-93c8-4a8e-9b1e-0b7d0e6f3a11")
SECRET_PREFIX = "whsec_"  # the Standard Webhooks form: whsec_<base64 of the key>


class UnknownEndpoint(LookupError):
    pass


class RequestReused(ValueError):
    """The request id was used before for another endpoint."""


def new_signing_secret() -> str:
    """32 random bytes (the HMAC-SHA256 key), as Standard Webhooks libraries read it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class CreateEndpoint:
    caller: str
    request_id: str
    url: str
    event_types: tuple[str, ...]
    description: str

    @property
    def endpoint_id(self) -> str:
        return "we_" + uuid.uuid5(_ENDPOINT_ID_NAMESPACE, f"{self.caller}\0{self.request_id}").hex


async def create_endpoint(
    uow: NotifyUnitOfWork, cmd: CreateEndpoint, *, allow_http_loopback: bool
) -> tuple[Endpoint, str]:
    """The endpoint and its signing secret. A replay of the same request (same caller and
    request id, same body) gets the same answer; another body under that id is refused
    (`RequestReused`). `InvalidEndpointUrl` for a URL that cannot be one."""
    check_url(cmd.url, allow_http_loopback=allow_http_loopback)
    async with uow as tx:
        added = await tx.store.add_endpoint(
            NewEndpoint(
                endpoint_id=cmd.endpoint_id,
                url=cmd.url,
                event_types=cmd.event_types,
                description=cmd.description,
                signing_secret=new_signing_secret(),
                caller=cmd.caller,
                request_id=cmd.request_id,
            )
        )
        endpoint, secret = await tx.store.endpoint_of_request(cmd.caller, cmd.request_id)
        if not added and (endpoint.url, endpoint.event_types, endpoint.description) != (
            cmd.url,
            cmd.event_types,
            cmd.description,
        ):
            raise RequestReused(cmd.request_id)
        await tx.commit()
    if added:
        log.info("webhook endpoint %s registered for %s", endpoint.endpoint_id, endpoint.url)
    return endpoint, secret


async def list_endpoints(uow: NotifyUnitOfWork) -> list[Endpoint]:
    async with uow as tx:
        return await tx.store.endpoints()


async def get_endpoint(uow: NotifyUnitOfWork, endpoint_id: str) -> Endpoint:
    async with uow as tx:
        found = await tx.store.endpoint(endpoint_id)
    if found is None:
        raise UnknownEndpoint(endpoint_id)
    return found


# The reason an operator's DisableWebhookEndpoint records: a decision, not a failure (no alert).
DISABLED_BY_HAND = "disabled by hand"


async def disable_endpoint(
    uow: NotifyUnitOfWork, endpoint_id: str, reason: str, clock: Callable[[], datetime]
) -> Endpoint:
    """Disable it (idempotent: a disabled endpoint stays as it is)."""
    async with uow as tx:
        if await tx.store.disable(endpoint_id, reason, clock()):
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        found = await tx.store.endpoint(endpoint_id)
        if found is None:
            raise UnknownEndpoint(endpoint_id)
        await tx.commit()
    return found
