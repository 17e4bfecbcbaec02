"""The local stack: embedded PostgreSQL and NATS, free ports, supervised child processes."""

from paymesh_cli.stack.nats import NatsError, NatsServer
from paymesh_cli.stack.ports import (
    HOST,
    free_port,
    free_port_except,
    port_is_free,
    reuse_or_free_port,
)
from paymesh_cli.stack.postgres import EmbeddedPostgres, PostgresError
from paymesh_cli.stack.processes import (
    Child,
    ProcessError,
    Supervisor,
    grpc_health_probe,
    http_probe,
    log_tail,
    spawn,
    stop_process,
    tcp_probe,
)

__all__ = [
    "HOST",
    "Child",
    "EmbeddedPostgres",
    "NatsError",
    "NatsServer",
    "PostgresError",
    "ProcessError",
    "Supervisor",
    "free_port",
    "free_port_except",
    "grpc_health_probe",
    "http_probe",
    "log_tail",
    "port_is_free",
    "reuse_or_free_port",
    "spawn",
    "stop_process",
    "tcp_probe",
]
