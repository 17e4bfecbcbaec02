"""`ServiceError` from gRPC: a `grpc.StatusCode` as the transport-neutral `mesh.errors.Code`, and
a failed call as the ServiceError its server raised, for clients and the gateway. Kept out of
`mesh.errors` because service layers may not import grpc, not even through mesh. The other way,
ServiceError to a rich status, needs no grpc: `mesh.errors.to_rpc_status`."""

from __future__ import annotations

import grpc
from google.rpc import status_pb2

from mesh.errors import Code, ServiceError, from_rpc_status

# The trailer in which a server sends its rich google.rpc.Status (grpcio-status).
_DETAILS_TRAILER = "grpc-status-details-bin"


def code_of(status_code: grpc.StatusCode) -> Code:
    """The neutral code of a gRPC status code (the same name and number)."""
    return Code(status_code.value[0])


def error_from_call(err: grpc.aio.AioRpcError) -> ServiceError:
    """The ServiceError a mesh server raised (its rich status: reason and metadata kept), or
    one made from the bare status of a server or proxy that sent none."""
    for key, value in err.trailing_metadata() or ():
        if key == _DETAILS_TRAILER:
            return from_rpc_status(status_pb2.Status.FromString(value))
    code = code_of(err.code())
    return ServiceError(code, code.name, str(err.details()))
