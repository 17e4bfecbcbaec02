"""Mutual TLS between the mesh's processes: which files a process presents and trusts, the gRPC
credentials made from them, and the identity a verified peer certificate names.

A process's identity is the last segment of its certificate's SPIFFE-like URI SAN
(`spiffe://paymesh.local/<identity>`): `gateway`, `payment_svc`, ...; a certificate without a
URI SAN is named by its CN. gRPC verifies the chain against our CA (the mesh's own, which signs
nothing else) before a call reaches us; only then is the identity read (see
docs/adr/0002-trusted-hops.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from mesh.grpc_targets import channel_options

TRUST_DOMAIN = "paymesh.local"
SPIFFE_PREFIX = f"spiffe://{TRUST_DOMAIN}/"
GATEWAY_IDENTITY = "gateway"


class TlsError(ValueError):
    """A TLS file cannot be read."""


def spiffe_id(identity: str) -> str:
    return f"{SPIFFE_PREFIX}{identity}"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA that signs every mesh certificate, and this process's own pair."""

    ca_file: str
    cert_file: str
    key_file: str

    def _read(self) -> tuple[bytes, bytes, bytes]:
        try:
            ca, cert, key = (Path(p).read_bytes() for p in self.paths)
        except OSError as err:
            raise TlsError(f"cannot read a TLS file: {err}") from None
        return ca, cert, key

    @property
    def paths(self) -> tuple[str, str, str]:
        return self.ca_file, self.cert_file, self.key_file

    def server_credentials(self) -> grpc.ServerCredentials:
        """Serve with our pair; every client must present a certificate our CA signed."""
        ca, cert, key = self._read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Call with our pair; the server must present a certificate our CA signed."""
        ca, cert, key = self._read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    """The identity in the caller's verified certificate, or None (no TLS, no certificate, or
    a certificate that names no identity of ours)."""
    auth = context.auth_context() or {}
    spiffe = [_text(v) for v in auth.get("peer_spiffe_id", ())]
    for text in spiffe:
        if text.startswith(SPIFFE_PREFIX):
            return text[len(SPIFFE_PREFIX) :]
    if spiffe:
        return None  # a SPIFFE ID of another trust domain names nobody of ours
    # A certificate of our CA without a URI SAN (one issued by name only): its common name.
    names = [_text(v) for v in auth.get("x509_common_name", ())]
    return names[0] if len(names) == 1 and names[0] else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def secure_channel(
    addr: str,
    files: TlsFiles | None,
    options: Sequence[tuple[str, Any]] = (),
    **kwargs: object,
) -> grpc.aio.Channel:
    """A channel to `addr` (one address, or every replica of a service: mesh.grpc_targets,
    calls spread round robin): mutual TLS with `files`, plain text without."""
    options = [*channel_options(addr, tls=files is not None), *options]
    if files is None:
        return grpc.aio.insecure_channel(addr, options=options, **kwargs)  # type: ignore[arg-type]
    return grpc.aio.secure_channel(addr, files.channel_credentials(), options=options, **kwargs)  # type: ignore[arg-type]
