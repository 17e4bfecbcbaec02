"""How one process reaches a service that may run as several replicas: one gRPC target, and
client-side round robin over every address it names (docs/adr/0026-service-replicas.md).

A target is what gRPC's name resolvers take, the same way in every place:

- `127.0.0.1:50051` or `payment-svc:50051`: one address (or a name with one address);
- `ipv4:127.0.0.1:50051,127.0.0.1:50061`: several replicas on this machine (`paymesh dev
  --replicas`);
- `dns:///payment-svc:50051`: every address a DNS name resolves to (on Kubernetes, a headless
  Service: one A record per ready pod, re-resolved when a connection closes).

A channel keeps one HTTP/2 connection per address and spreads calls over them in turn
(`round_robin`); with one connection to a load-balancing virtual IP, every call of a process
would go to the one replica that connection landed on.
"""

from __future__ import annotations

import json

# Every channel: one subchannel per resolved address, calls in turn over the ready ones.
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
_ADDRESS_LIST_SCHEMES = ("ipv4:", "ipv6:")


def tls_name(target: str) -> str | None:
    """The server name to check certificates against, for a target whose own name is not a
    host name: `ipv4:a:p1,b:p2` would be checked as the whole string `a:p1,b:p2` (grpc/grpc
    #12569). Every replica of a service presents the same certificate, so the first address's
    host is the name. None for any other target (gRPC's default authority is right)."""
    for scheme in _ADDRESS_LIST_SCHEMES:
        if target.startswith(scheme):
            first = target[len(scheme) :].lstrip("/").split(",", 1)[0]
            if first.startswith("["):  # [::1]:50051
                return first[1 : first.index("]")]
            return first.rsplit(":", 1)[0]
    return None


def channel_options(target: str, *, tls: bool) -> list[tuple[str, str | int]]:
    """The channel arguments every mesh channel to `target` gets."""
    options: list[tuple[str, str | int]] = [("grpc.service_config", ROUND_ROBIN)]
    name = tls_name(target) if tls else None
    if name:
        options.append(("grpc.ssl_target_name_override", name))
    return options


def address_list(addresses: list[str]) -> str:
    """The target for replicas at `addresses` ("host:port" each): the address itself for
    one, an `ipv4:` list for several."""
    if len(addresses) == 1:
        return addresses[0]
    return "ipv4:" + ",".join(addresses)
