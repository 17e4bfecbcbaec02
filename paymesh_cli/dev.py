"""`paymesh dev`: the whole mesh on this machine, and `paymesh migrate`.

PostgreSQL and NATS run embedded (unless DATABASE_URL / NATS_URL are set), then every service of
SERVICES runs as its own `python -m <module>` process, each started once the previous one is
ready. State lives in the data dir (default `.paymesh`) and is kept between runs:

    pg/  nats/  logs/<name>.log  psp-sandbox.jsonl  dev-api-key  stack.json
    secrets/ (passwords.json, nats.conf)  tls/ (ca.pem, <process>.pem, <process>-key.pem)

The data dir is mode 0700 and every file holding a secret 0600 (see paymesh_cli.dev_security
for how each hop is protected).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import click

from mesh.grpc_targets import address_list
from paymesh_cli.stack.ports import (
    HOST,
    free_port_except,
    port_is_free,
    port_of_url,
    reuse_or_free_port,
)
from paymesh_cli.stack.processes import (
    Probe,
    ProcessError,
    Supervisor,
    grpc_health_probe,
    http_probe,
    log_tail,
)
from paymesh_cli.stack.secrets import write_private
from paymesh_cli.stackfile import DEFAULT_DATA_DIR, StackFileError, StackInfo

if TYPE_CHECKING:  # imported where used: they pull in grpc, alembic and cryptography
    from mesh.tls import TlsFiles
    from paymesh_cli.dev_security import DevSecurity

DEV_PSP_API_KEY = "sk_test_paymesh_dev"
DATA_DIR_MARKER = ".paymesh-data-dir"  # `--fresh` deletes only directories that carry it
API_KEY_FILE = "dev-api-key"
DEV_KEY_RATE_LIMIT = "1000/second"
GATEWAY = "gateway"
PSP_SANDBOX = "psp_sandbox"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
MAX_RESTARTS = 5  # within RESTART_WINDOW seconds, then the stack stops
RESTART_WINDOW = 60.0


# --- the services ----------------------------------------------------------------------------

# Called with the service's "127.0.0.1:PORT" and the certificate to probe gRPC with.
ProbeFactory = Callable[[str, "TlsFiles | None"], Probe]


def _http(path: str) -> ProbeFactory:
    return lambda addr, tls: http_probe(f"http://{addr}{path}")


def _grpc(addr: str, tls: TlsFiles | None) -> Probe:
    return grpc_health_probe(addr, service="", tls=tls)


def _no_env(stack: DevStack) -> dict[str, str]:
    return {}


def _psp_sandbox_env(stack: DevStack) -> dict[str, str]:
    # Imported here, not at the top: they pull in the gateway and the stripe SDK, which every
    # other `paymesh` command would then load for nothing.
    from gateway.webhooks import CONNECT_PATH
    from gateway.webhooks import PATH as STRIPE_WEBHOOK_PATH
    from payment_svc.adapters.stripe_webhooks import CHARGE_EVENTS
    from payout_svc.adapters.stripe_connect_webhooks import PAYOUT_EVENTS

    return {
        "PSP_SANDBOX_HOST": HOST,
        "PSP_SANDBOX_PORT": str(stack.ports[PSP_SANDBOX]),
        "PSP_SANDBOX_STATE_FILE": str(stack.data_dir / "psp-sandbox.jsonl"),
        # The sandbox signs its events and delivers them to the gateway, as Stripe would.
        "PSP_SANDBOX_WEBHOOK_URL": f"http://{HOST}:{stack.ports[GATEWAY]}{STRIPE_WEBHOOK_PATH}",
        # Only the events paymesh acts on, as its Stripe endpoint would be configured.
        "PSP_SANDBOX_WEBHOOK_EVENTS": ",".join(sorted(CHARGE_EVENTS)),
        # Its Connect endpoint: connected accounts' payout events, for payout_svc (the secret
        # is both sides' published dev default).
        "PSP_SANDBOX_CONNECT_WEBHOOK_URL": f"http://{HOST}:{stack.ports[GATEWAY]}{CONNECT_PATH}",
        "PSP_SANDBOX_CONNECT_WEBHOOK_EVENTS": ",".join(sorted(PAYOUT_EVENTS)),
    }


def _wallet_env(stack: DevStack) -> dict[str, str]:
    # payout_svc holds and settles funds through the wallet's internal hold RPCs: the one
    # service-to-service gRPC call of the mesh (docs/adr/0012-pay-out.md).
    return {"GRPC_ALLOWED_CALLERS": f"{GATEWAY},payout_svc"}


def _ledger_env(stack: DevStack) -> dict[str, str]:
    # recon_svc books the finance queue's write-offs and duplicate charges refunded (and the
    # PSP's fees and payouts) through the ledger's own RPCs (docs/adr/0019, 0025).
    return {"GRPC_ALLOWED_CALLERS": f"{GATEWAY},recon_svc"}


def _payment_env(stack: DevStack) -> dict[str, str]:
    # recon_svc settles orders and refunds the PSP's report shows settled, and refunds on a
    # person's decision, through the payment service's own RPCs (docs/adr/0018).
    return {"GRPC_ALLOWED_CALLERS": f"{GATEWAY},recon_svc"}


def _notify_env(stack: DevStack) -> dict[str, str]:
    # A marketplace tried out on this machine listens on plain http://127.0.0.1 (refused
    # outside the dev stack: production endpoints are https).
    return {"NOTIFY_ALLOW_HTTP_LOOPBACK": "1"}


def _gateway_env(stack: DevStack) -> dict[str, str]:
    return {"GATEWAY_HOST": HOST, "GATEWAY_PORT": str(stack.ports[GATEWAY])}


@dataclass(frozen=True)
class Service:
    name: str  # also the log file name: <data-dir>/logs/<name>.log
    module: str  # run as `python -m <module>`
    probe: ProbeFactory  # readiness, given "127.0.0.1:PORT"
    env: Callable[[DevStack], dict[str, str]] = _no_env  # variables for this process only
    addr_env: str | None = None  # EVERY process gets ADDR_ENV=127.0.0.1:<this service's port>

    @property
    def metrics_env(self) -> str | None:
        """Each gRPC service serves /metrics on `<PREFIX>_METRICS_ADDR` (mesh.metrics), a port
        of its own under `paymesh dev`."""
        if self.addr_env and self.addr_env.endswith("_GRPC_ADDR"):
            return self.addr_env.removesuffix("_GRPC_ADDR") + "_METRICS_ADDR"
        return None


def _payout_env(stack: DevStack) -> dict[str, str]:
    """The payout provider is the sandbox, as Stripe Connect."""
    return {
        "PAYOUT_PROVIDER_API_BASE": stack.psp_api_base,
        "PAYOUT_PROVIDER_API_KEY": DEV_PSP_API_KEY,
    }


def _recon_env(stack: DevStack) -> dict[str, str]:
    """The PSP's report is the sandbox's; runs spool into the stack's data directory."""
    return {
        "RECON_PSP_API_BASE": stack.psp_api_base,
        "RECON_PSP_API_KEY": DEV_PSP_API_KEY,
        "RECON_SCRATCH_DIR": str(stack.data_dir / "recon"),
    }


# Started in this order (each once the previous is ready), stopped in reverse.
SERVICES: tuple[Service, ...] = (
    Service(PSP_SANDBOX, "psp_sandbox", _http("/healthz"), env=_psp_sandbox_env),
    Service("ledger_svc", "ledger_svc", _grpc, env=_ledger_env, addr_env="LEDGER_GRPC_ADDR"),
    Service("wallet_svc", "wallet_svc", _grpc, env=_wallet_env, addr_env="WALLET_GRPC_ADDR"),
    Service("payment_svc", "payment_svc", _grpc, env=_payment_env, addr_env="PAYMENT_GRPC_ADDR"),
    Service("notify_svc", "notify_svc", _grpc, env=_notify_env, addr_env="NOTIFY_GRPC_ADDR"),
    Service("payout_svc", "payout_svc", _grpc, env=_payout_env, addr_env="PAYOUT_GRPC_ADDR"),
    Service("recon_svc", "recon_svc", _grpc, env=_recon_env, addr_env="RECON_GRPC_ADDR"),
    Service(GATEWAY, "gateway", _http("/readyz"), env=_gateway_env),
)


MAX_REPLICAS = 8


def replica_name(service: str, index: int) -> str:
    """The process name (and log file name) of a service's replica `index` (0-based): the
    first is the service's own name, so one replica looks as it always did."""
    return service if index == 0 else f"{service}-{index + 1}"


def parse_replicas(text: str) -> dict[str, int]:
    """`payment_svc=2,wallet_svc=3` -> {service: replicas}; ValueError saying what is wrong.
    Only the gRPC services may have several: the gateway has the one port it was given, and
    the sandbox stands for one outside PSP."""
    scalable = {s.name for s in SERVICES if s.addr_env}
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = part.partition("=")
        name = name.strip()
        if not sep or name not in scalable:
            raise ValueError(
                f"{part!r}: expected SERVICE=N with SERVICE one of {', '.join(sorted(scalable))}"
            )
        try:
            count = int(number)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_REPLICAS:
            raise ValueError(f"{part!r}: N must be a whole number from 1 to {MAX_REPLICAS}")
        counts[name] = count
    return counts


@dataclass(frozen=True)
class DevStack:
    """Where everything of one `paymesh dev` run listens."""

    data_dir: Path  # absolute
    database_url: str
    nats_url: str
    ports: Mapping[str, int]  # service name -> port on 127.0.0.1
    log_level: str = "INFO"
    # service name -> its /metrics port; a service with none here takes any free port.
    metrics_ports: Mapping[str, int] = field(default_factory=dict)
    security: DevSecurity | None = None
    # The embedded cluster's superuser URL (roles per service), None for a given DATABASE_URL.
    admin_url: str | None = None
    nats_secured: bool = False  # the embedded NATS with a user per service
    # service name -> the ports of ITS replicas after the first (whose port is ports[name]).
    more_replicas: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def addr(self, name: str) -> str:
        return f"{HOST}:{self.ports[name]}"

    def replicas(self, service: Service) -> list[tuple[str, str]]:
        """(process name, "127.0.0.1:PORT") of each replica of `service`, the first first."""
        ports = (self.ports[service.name], *self.more_replicas.get(service.name, ()))
        return [(replica_name(service.name, i), f"{HOST}:{p}") for i, p in enumerate(ports)]

    def target(self, service: Service) -> str:
        """How the other processes reach `service`: its one address, or the list of its
        replicas' (mesh.grpc_targets: each caller spreads its calls over them in turn)."""
        return address_list([addr for _, addr in self.replicas(service)])

    def metrics_url(self, name: str) -> str | None:
        port = self.metrics_ports.get(name)
        return f"http://{HOST}:{port}/metrics" if port else None

    def probe(self, service: Service, addr: str | None = None) -> Probe:
        """Readiness of `service` at `addr` (default: its first replica's)."""
        tls = self.security.cli_tls if self.security else None
        return service.probe(addr or self.addr(service.name), tls)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.addr(GATEWAY)}"

    @property
    def psp_api_base(self) -> str:
        return f"http://{self.addr(PSP_SANDBOX)}"

    def common_env(self) -> dict[str, str]:
        """What every process gets."""
        env = {
            # The embedded cluster's URL is the superuser's: each service gets its own role's
            # instead (DevSecurity.env_for), and a process without a schema gets none.
            "DATABASE_URL": "" if self.admin_url else self.database_url,
            "NATS_URL": self.nats_url,
            "LOG_LEVEL": self.log_level,
            "PSP_API_BASE": self.psp_api_base,
            "PSP_API_KEY": DEV_PSP_API_KEY,
            "PYTHONUNBUFFERED": "1",
            # Files of the caller's environment would name another stack's: each process gets
            # ours (DevSecurity.env_for). NATS_USER / NATS_PASSWORD of the caller's environment
            # stay, for a NATS_URL of its own that wants them.
            "MESH_TLS_CA_FILE": "",
            "MESH_TLS_CERT_FILE": "",
            "MESH_TLS_KEY_FILE": "",
        }
        for service in SERVICES:
            if service.addr_env:
                env[service.addr_env] = self.target(service)
        return env

    def env_for(
        self, service: Service, base: Mapping[str, str], replica: int = 0
    ) -> dict[str, str]:
        """The environment of `service`'s process number `replica` (0-based)."""
        secrets = (
            self.security.env_for(
                service.name, admin_url=self.admin_url, nats_secured=self.nats_secured
            )
            if self.security
            else {}
        )
        env = {**base, **self.common_env(), **service.env(self), **secrets}
        name, addr = self.replicas(service)[replica]
        if service.addr_env:
            # Its own listening address; every other process has the list of them all. A
            # service never calls itself, so it needs no list of its own replicas.
            env[service.addr_env] = addr
        if service.metrics_env:
            env[service.metrics_env] = f"{HOST}:{self.metrics_ports.get(name, 0)}"
        no_proxy = ",".join(p for p in (base.get("NO_PROXY", ""), HOST, "localhost") if p)
        env["NO_PROXY"] = env["no_proxy"] = no_proxy  # never send local calls to a proxy
        return env


def allocate_metrics_ports(
    avoid: set[int],
    alloc: Callable[[set[int]], int] = free_port_except,
    replicas: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """A distinct free port for the /metrics listener of each process (each replica, by its
    process name) of each service that has one."""
    taken, ports = set(avoid), {}
    for service in SERVICES:
        if service.metrics_env:
            for i in range((replicas or {}).get(service.name, 1)):
                ports[replica_name(service.name, i)] = port = alloc(taken)
                taken.add(port)
    return ports


def allocate_more_replicas(
    replicas: Mapping[str, int],
    avoid: set[int],
    alloc: Callable[[set[int]], int] = free_port_except,
) -> dict[str, tuple[int, ...]]:
    """A distinct free gRPC port for each replica after the first of each service."""
    taken, more = set(avoid), {}
    for name, count in replicas.items():
        ports = []
        for _ in range(count - 1):
            ports.append(port := alloc(taken))
            taken.add(port)
        if ports:
            more[name] = tuple(ports)
    return more


def allocate_ports(
    gateway_port: int,
    avoid: set[int] | frozenset[int] = frozenset(),
    alloc: Callable[[set[int]], int] = free_port_except,
) -> dict[str, int]:
    """A distinct free port per service; the gateway gets `gateway_port`."""
    taken = set(avoid) | {gateway_port}
    ports: dict[str, int] = {}
    for service in SERVICES:
        if service.name == GATEWAY:
            ports[service.name] = gateway_port
        else:
            ports[service.name] = port = alloc(taken)
            taken.add(port)
    return ports


# --- data dir, API key ----------------------------------------------------------------------


def prepare_data_dir(data_dir: Path, fresh: bool) -> None:
    """Create the data dir (and logs/); with `fresh`, delete it first if it is ours."""
    if fresh and data_dir.exists():
        if not (data_dir / DATA_DIR_MARKER).exists() and any(data_dir.iterdir()):
            raise click.ClickException(
                f"refusing to delete {data_dir}: it is not a paymesh data dir "
                f"(no {DATA_DIR_MARKER} in it)"
            )
        shutil.rmtree(data_dir)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").chmod(0o700)
    lock_data_dir(data_dir)
    (data_dir / DATA_DIR_MARKER).touch()


def lock_data_dir(data_dir: Path) -> None:
    """Keys, passwords, logs and the database are the owner's only: mode 0700; 0711 as root,
    where PostgreSQL runs as its own system user and must pass through to pg/ (the embedded
    PostgreSQL opens the data dir's parents to it when it starts: call this again after)."""
    data_dir.chmod(0o711 if os.geteuid() == 0 else 0o700)


def write_secret(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 (never readable by others, not even briefly)."""
    write_private(path, text + "\n")


async def ensure_dev_api_key(data_dir: Path, database_url: str, fresh: bool) -> Path:
    """Issue the dev API key (every scope, and a rate high enough for `paymesh bench` and
    `paymesh chaos`) unless the data dir already has one."""
    from gateway.api_keys import issue_api_key, live_key_scopes  # imported only when needed
    from gateway.auth import split_key
    from gateway.scopes import SCOPES

    path = data_dir / API_KEY_FILE
    if path.exists() and not fresh:
        parts = split_key(path.read_text().strip())
        held = await live_key_scopes(database_url, parts[0]) if parts else None
        if held is not None and held >= set(SCOPES):
            return path
        # A key from before scopes were checked (or revoked): a new one that can do everything.

    key = await issue_api_key(
        database_url, name="dev", scopes=list(SCOPES), rate_limit=DEV_KEY_RATE_LIMIT
    )
    write_secret(path, key)
    return path


def migrate_stack(security: DevSecurity, database_url: str, *, embedded: bool) -> None:
    """On the embedded cluster: a role per service (mesh.db_roles). On a given DATABASE_URL:
    the migrations as that URL's user, as before (its operator manages its roles)."""
    if embedded:
        security.migrate(database_url)
    else:
        from mesh.migrations import upgrade_all

        upgrade_all(database_url)


# --- running it -----------------------------------------------------------------------------


def _say(message: str) -> None:
    click.echo(message)


def _complain(message: str) -> None:
    click.echo(f"paymesh dev: {message}", err=True)


async def _unless_stopped(awaitable: Awaitable[object], stop: asyncio.Event) -> bool:
    """Await `awaitable` unless `stop` is set first (then cancel it). True if it completed."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


class _Server(Protocol):
    """What EmbeddedPostgres and NatsServer have alike."""

    @property
    def port(self) -> int: ...
    @property
    def url(self) -> str: ...
    def start(self) -> None: ...


S = TypeVar("S", bound=_Server)


def _given_or_embedded(
    env_var: str, name: str, recorded_url: str | None, taken: set[int], make: Callable[[int], S]
) -> tuple[str, S | None]:
    """The server's URL from `env_var` when the operator gave one; else start the embedded
    server on its previous port when free (so URLs stay stable across runs) or a free one."""
    given = os.environ.get(env_var)
    if given:
        _say(f"using {env_var} from the environment")
        return given, None
    recorded = port_of_url(recorded_url) if recorded_url else None
    server = make(reuse_or_free_port(recorded, avoid=taken))
    taken.add(server.port)
    _say(f"starting {name}… (127.0.0.1:{server.port})")
    server.start()
    return server.url, server


async def run_dev(
    port: int,
    data_dir: Path,
    fresh: bool,
    shown_dir: Path | None = None,
    child_env: Mapping[str, str] | None = None,
    replicas: Mapping[str, int] | None = None,
) -> int:
    """The body of `paymesh dev`; returns the exit code. `data_dir` is absolute, `shown_dir` as
    the user wrote it; children get `child_env` (default os.environ) plus the stack's env;
    `replicas` says how many processes of a service to run (default one)."""
    from paymesh_cli.dev_security import DevSecurity
    from paymesh_cli.stack.nats import NatsError, NatsServer
    from paymesh_cli.stack.postgres import EmbeddedPostgres, PostgresError

    shown_dir = shown_dir or data_dir
    base_env = dict(os.environ if child_env is None else child_env)
    if not port_is_free(port):
        _complain(f"port {port} on {HOST} is already in use (another `paymesh dev`?); try --port")
        return 1
    prepare_data_dir(data_dir, fresh)
    logs = data_dir / "logs"
    try:
        previous: StackInfo | None = StackInfo.load(data_dir)
    except StackFileError:
        previous = None
    StackInfo.path(data_dir).unlink(missing_ok=True)  # nobody should find a half-started stack

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)

    pg: EmbeddedPostgres | None = None
    nats: NatsServer | None = None
    supervisor = Supervisor(logs)
    security = DevSecurity(data_dir)
    try:
        taken = {port}
        database_url, pg = _given_or_embedded(
            "DATABASE_URL",
            "postgres",
            previous.database_url if previous else None,
            taken,
            lambda p: EmbeddedPostgres(
                data_dir / "pg",
                p,
                log_file=logs / "postgres.log",
                password=security.superuser_password,
            ),
        )
        nats_url, nats = _given_or_embedded(
            "NATS_URL",
            "nats",
            previous.nats_url if previous else None,
            taken,
            lambda p: NatsServer(
                data_dir / "nats",
                p,
                log_file=logs / "nats.log",
                config_file=security.nats_config(),
            ),
        )
        lock_data_dir(data_dir)
        if stop.is_set():
            return 0

        _say("running migrations…")
        await asyncio.to_thread(migrate_stack, security, database_url, embedded=pg is not None)
        key_file = await ensure_dev_api_key(data_dir, database_url, fresh)
        if stop.is_set():
            return 0

        ports = allocate_ports(port, avoid=taken)
        more = allocate_more_replicas(replicas or {}, taken | set(ports.values()))
        grpc_ports = set(ports.values()) | {p for ps in more.values() for p in ps}
        security.issue_certificates(s.name for s in SERVICES)  # replicas share their service's
        stack = DevStack(
            data_dir=data_dir,
            database_url=database_url,
            nats_url=nats_url,
            ports=ports,
            log_level=os.environ.get("LOG_LEVEL", "INFO"),
            metrics_ports=allocate_metrics_ports(taken | grpc_ports, replicas=replicas),
            security=security,
            admin_url=database_url if pg is not None else None,
            nats_secured=nats is not None,
            more_replicas=more,
        )
        # process name -> its service and address, to probe it again after a restart
        processes: dict[str, tuple[Service, str]] = {}
        for service in SERVICES:
            for replica, (name, addr) in enumerate(stack.replicas(service)):
                metrics = stack.metrics_url(name)
                shown = f", metrics {metrics}" if metrics else ""
                _say(f"starting {name}… ({addr}{shown})")
                child = supervisor.start_module(
                    name, service.module, stack.env_for(service, base_env, replica)
                )
                processes[name] = (service, addr)
                ready = supervisor.wait_ready(
                    child, stack.probe(service, addr), within=READY_TIMEOUT
                )
                if not await _unless_stopped(ready, stop):
                    return 0

        StackInfo(
            gateway_url=stack.gateway_url,
            database_url=database_url,
            nats_url=nats_url,
            psp_api_base=stack.psp_api_base,
            psp_api_key=DEV_PSP_API_KEY,
            api_key_file=str(key_file),
        ).save(data_dir)
        _say(f"paymesh ready: {stack.gateway_url} (api key in {shown_dir / API_KEY_FILE})")

        while not stop.is_set():
            if (dead := supervisor.first_exited()) is not None:
                # Like an orchestrator: a crashed service is started again; its work in flight
                # is redelivered by JetStream, so nothing is lost. One that keeps crashing stops
                # the stack instead of flapping.
                recent = [t for t in dead.restarts if time.monotonic() - t < RESTART_WINDOW]
                if len(recent) >= MAX_RESTARTS:
                    _complain(f"{dead.describe_exit()}\nit keeps crashing; stopping the rest")
                    return 1
                _complain(f"{dead.describe_exit()}\nrestarting {dead.name}")
                child = supervisor.restart(dead)
                service, addr = processes[child.name]
                probe = stack.probe(service, addr)
                ready = supervisor.wait_ready(child, probe, within=READY_TIMEOUT)
                if not await _unless_stopped(ready, stop):
                    return 0
                _say(f"{child.name} restarted")
                continue
            for name, server in (("postgres", pg), ("nats", nats)):
                if server is not None and not server.is_running():
                    code = server.process.poll() if server.process else None
                    _complain(
                        f"{name} exited ({code}); last lines of {server.log_file}:\n"
                        f"{log_tail(server.log_file, since=server.log_start)}\nstopping the rest"
                    )
                    return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        return 0
    except (ProcessError, PostgresError, NatsError) as exc:
        _complain(str(exc))
        return 1
    finally:
        if supervisor.children or pg or nats:
            _say("stopping…")
        supervisor.stop_all(STOP_TIMEOUT)
        if nats is not None:
            nats.stop()
        if pg is not None:
            pg.stop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


_data_dir_option = click.option(
    "--data-dir",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the stack keeps its state.",
)


@click.command()
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@_data_dir_option
@click.option("--fresh", is_flag=True, help="Delete the data dir first.")
@click.option(
    "--replicas",
    "replicas_text",
    default="",
    metavar="SVC=N,...",
    help="Run N processes of a gRPC service (e.g. payment_svc=2,wallet_svc=2), each on its "
    "own port; callers spread their calls over them, the durable consumers share the work.",
)
@click.pass_context
def dev(ctx: click.Context, port: int, data_dir: Path, fresh: bool, replicas_text: str) -> None:
    """Run the whole mesh on this machine until Ctrl-C."""
    try:
        replicas = parse_replicas(replicas_text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--replicas") from None
    child_env = dict(os.environ)
    # The readiness probes use gRPC in this process, which forks the children: gRPC's fork
    # handlers are not needed here (children exec at once) and only log noise.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    code = asyncio.run(
        run_dev(
            port,
            data_dir.absolute(),
            fresh,
            shown_dir=data_dir,
            child_env=child_env,
            replicas=replicas,
        )
    )
    ctx.exit(code)


@click.command()
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    help="A superuser's URL. Defaults to $DATABASE_URL, else the running dev stack's.",
)
@click.option(
    "--roles-file",
    envvar="PAYMESH_DB_ROLES_FILE",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON {schema: {owner, runtime}} of role passwords: create a role per service "
    "and migrate as each schema's owner. The dev stack's own are used without it.",
)
@click.option(
    "--runtime-roles",
    envvar="PAYMESH_DB_RUNTIME_ROLES",
    help="schema=role,... : login roles made elsewhere (e.g. by the database operator) that "
    "the services connect as; after migrating as the given user, each gets its schema's "
    "runtime grants (and no UPDATE/DELETE on the append-only tables).",
)
@_data_dir_option
def migrate(
    database_url: str | None, roles_file: Path | None, runtime_roles: str | None, data_dir: Path
) -> None:
    """Bring every service's schema to the newest revision, each as its owner role."""
    from mesh.db_roles import (
        grant_runtime,
        load_role_passwords,
        migrate_as_roles,
        parse_runtime_roles,
    )
    from mesh.migrations import SERVICES_WITH_SCHEMA, upgrade_all
    from paymesh_cli.dev_security import DevSecurity

    if roles_file is not None:
        if not database_url:
            raise click.ClickException("--roles-file needs --database-url (a superuser's)")
        try:
            passwords = load_role_passwords(roles_file)
            migrate_as_roles(database_url, SERVICES_WITH_SCHEMA, passwords)
        except ValueError as err:
            raise click.ClickException(str(err)) from None
        click.echo("roles ensured, migrations applied as each schema's owner, grants given")
        return
    if database_url:
        try:
            grants = parse_runtime_roles(runtime_roles or "")
        except ValueError as err:
            raise click.ClickException(f"--runtime-roles: {err}") from None
        upgrade_all(database_url)  # as that URL's user: its operator manages the roles
        for schema, role in grants.items():
            grant_runtime(database_url, schema, role)
        granted = f"; runtime grants to {', '.join(grants.values())}" if grants else ""
        click.echo(f"migrations applied as the given user{granted}")
        return
    try:
        database_url = StackInfo.load(data_dir).database_url
    except StackFileError as exc:
        raise click.ClickException(f"no --database-url or DATABASE_URL, and {exc}") from None
    DevSecurity(data_dir).migrate(database_url)
    click.echo("migrations applied, each schema as its owner role")


COMMANDS = (dev, migrate)
