"""The dev stack as processes that `paymesh chaos` kills and starts again itself.

Built from `paymesh dev`'s parts (embedded PostgreSQL and NATS, SERVICES, the Supervisor), but
without dev's immediate auto-restart: a victim stays down for the pause chaos chooses. Every
process runs on 127.0.0.1 on ports picked now; PostgreSQL and NATS keep their ports and their
data dirs across restarts, so a restart is crash recovery on the same state.

Children die with the thread that started them (PR_SET_PDEATHSIG), so `start()` and every
`revive()` must run on threads that live until `stop()`: the main thread and chaos's killer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path

from paymesh_cli.dev import (
    API_KEY_FILE,
    DEV_PSP_API_KEY,
    READY_TIMEOUT,
    SERVICES,
    STOP_TIMEOUT,
    DevStack,
    Service,
    allocate_ports,
    ensure_dev_api_key,
    lock_data_dir,
    prepare_data_dir,
)
from paymesh_cli.stack.nats import NatsServer
from paymesh_cli.stack.ports import free_port_except
from paymesh_cli.stack.postgres import EmbeddedPostgres
from paymesh_cli.stack.processes import Child, Supervisor
from paymesh_cli.stackfile import StackInfo

POSTGRES = "postgres"
NATS = "nats"
# What chaos may kill: every service process (each runs its own outbox relay and, for
# payment_svc, the executor), the gateway, the sandbox PSP, and the two servers.
VICTIMS: tuple[str, ...] = (*(s.name for s in SERVICES), NATS, POSTGRES)


class ChaosStack:
    """Start everything once; then `kill(victim)` and `revive(victim)` any part of it."""

    def __init__(self, data_dir: Path, base_env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.base_env = dict(os.environ if base_env is None else base_env)
        # The stack always runs its own servers, whatever the operator's environment says.
        for name in ("DATABASE_URL", "NATS_URL"):
            self.base_env.pop(name, None)
        self.supervisor = Supervisor(self.logs)
        self.pg: EmbeddedPostgres | None = None
        self.nats: NatsServer | None = None
        self.dev: DevStack | None = None
        self.down: set[str] = set()  # killed on purpose and not started yet
        self.stopping = False  # once set, nothing is killed or started any more
        self._lock = threading.Lock()  # the killer thread and the main thread both look

    # --- start and stop -------------------------------------------------------------------

    async def start(self) -> None:
        """Start PostgreSQL, NATS (file store in the data dir), migrate, issue the API key,
        then every service once the previous one is ready."""
        from paymesh_cli.dev_security import DevSecurity  # grpc, alembic: not for every command

        prepare_data_dir(self.data_dir, fresh=True)
        security = DevSecurity(self.data_dir)  # the same protected hops as `paymesh dev`
        taken: set[int] = set()
        self.pg = EmbeddedPostgres(
            self.data_dir / "pg",
            free_port_except(taken),
            log_file=self.logs / "postgres.log",
            password=security.superuser_password,
        )
        taken.add(self.pg.port)
        self.nats = NatsServer(
            self.data_dir / "nats",
            free_port_except(taken),
            log_file=self.logs / "nats.log",
            config_file=security.nats_config(),
        )
        taken.add(self.nats.port)
        self.pg.start()
        self.nats.start()
        lock_data_dir(self.data_dir)
        await asyncio.to_thread(security.migrate, self.pg.url)
        key_file = await ensure_dev_api_key(self.data_dir, self.pg.url, fresh=True)
        security.issue_certificates(s.name for s in SERVICES)
        gateway_port = free_port_except(taken)
        self.dev = DevStack(
            data_dir=self.data_dir,
            database_url=self.pg.url,
            nats_url=self.nats.url,
            ports=allocate_ports(gateway_port, avoid=taken),
            log_level=os.environ.get("LOG_LEVEL", "INFO"),
            security=security,
            admin_url=self.pg.url,
            nats_secured=True,
        )
        for service in SERVICES:
            child = self.supervisor.start_module(
                service.name, service.module, self.dev.env_for(service, self.base_env)
            )
            await self._wait_ready(service, child)
        StackInfo(  # so that `paymesh check --data-dir` finds this stack too
            gateway_url=self.dev.gateway_url,
            database_url=self.pg.url,
            nats_url=self.nats.url,
            psp_api_base=self.dev.psp_api_base,
            psp_api_key=DEV_PSP_API_KEY,
            api_key_file=str(key_file),
        ).save(self.data_dir)

    def stop(self) -> None:
        """Stop everything that runs, services first, PostgreSQL last."""
        self.stopping = True
        self.supervisor.stop_all(STOP_TIMEOUT)
        if self.nats is not None:
            self.nats.stop()
        if self.pg is not None:
            self.pg.stop()

    # --- what the clients and the checks need ---------------------------------------------

    @property
    def gateway_url(self) -> str:
        assert self.dev is not None
        return self.dev.gateway_url

    @property
    def psp_api_base(self) -> str:
        assert self.dev is not None
        return self.dev.psp_api_base

    @property
    def database_url(self) -> str:
        assert self.pg is not None
        return self.pg.url

    @property
    def nats_url(self) -> str:
        assert self.nats is not None
        return self.nats.url

    def operator_nats_credentials(self) -> tuple[str, str]:
        """The operator's NATS user (it may read the DLQ stream), for the run's figures."""
        from paymesh_cli.stack.nats_auth import OPERATOR
        from paymesh_cli.stack.secrets import DevPasswords

        return OPERATOR, DevPasswords(self.data_dir)[f"nats:{OPERATOR}"]

    def api_key(self) -> str:
        return (self.data_dir / API_KEY_FILE).read_text(encoding="utf-8").strip()

    # --- kill and revive --------------------------------------------------------------------

    def kill(self, victim: str) -> None:
        """SIGKILL the victim's process (no clean shutdown of any kind) and reap it."""
        if self.stopping:
            return
        with self._lock:
            self.down.add(victim)
            popen = self._popen(victim)
        if popen is not None and popen.poll() is None:
            popen.send_signal(signal.SIGKILL)
        if popen is not None:
            popen.wait()

    def revive(self, victim: str) -> None:
        """Start the victim again on its port and data, and wait until it is ready. Blocks:
        call it from the killer thread."""
        if self.stopping:
            return
        if victim == POSTGRES:
            assert self.pg is not None
            self.pg.start()  # crash recovery on the same data dir happens here
        elif victim == NATS:
            assert self.nats is not None
            self.nats.start()  # JetStream recovers its streams and consumers from the file store
        else:
            service, child = self._service(victim)
            fresh = self.supervisor.restart(child)
            asyncio.run(self._wait_ready(service, fresh))
        with self._lock:
            self.down.discard(victim)

    def died_unasked(self) -> list[str]:
        """Processes that exited although nobody killed them (a service that could not take a
        dependency's outage)."""
        with self._lock:
            if self.stopping:
                return []
            dead = [c.name for c in self.supervisor.children if not c.alive()]
            for name, server in ((POSTGRES, self.pg), (NATS, self.nats)):
                if server is not None and not server.is_running():
                    dead.append(name)
            return [name for name in dead if name not in self.down]

    def exit_report(self, name: str) -> str:
        """How a process ended, with the tail of its log."""
        for child in self.supervisor.children:
            if child.name == name:
                return child.describe_exit()
        return f"{name} is not running; see {self.logs}/{name}.log"

    # --- internals --------------------------------------------------------------------------

    def _service(self, name: str) -> tuple[Service, Child]:
        service = next(s for s in SERVICES if s.name == name)
        child = next(c for c in self.supervisor.children if c.name == name)
        return service, child

    def _popen(self, victim: str):  # type: ignore[no-untyped-def]
        if victim == POSTGRES:
            return self.pg.process if self.pg else None
        if victim == NATS:
            return self.nats.process if self.nats else None
        return self._service(victim)[1].popen

    async def _wait_ready(self, service: Service, child: Child) -> None:
        assert self.dev is not None
        probe = self.dev.probe(service)
        await self.supervisor.wait_ready(child, probe, within=READY_TIMEOUT)
