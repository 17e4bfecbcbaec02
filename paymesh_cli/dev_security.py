"""How `paymesh dev` (and `paymesh chaos`) protect each hop of the local stack: a password per
PostgreSQL role and NATS user (kept in the data dir), nats-server's users and permissions, the
services' least-privilege database roles, and a certificate per process for mutual TLS.

Everything secret reaches a process through its environment or a file of mode 0600, never its
argv (which any local user can read in /proc/<pid>/cmdline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mesh.db_roles import RolePasswords, migrate_as_roles, runtime_role, url_as
from mesh.migrations import SERVICES_WITH_SCHEMA
from mesh.tls import TlsFiles
from paymesh_cli.stack.certs import issue_dev_pki, tls_env
from paymesh_cli.stack.nats_auth import OPERATOR, SERVICE_RIGHTS, write_nats_config
from paymesh_cli.stack.secrets import DevPasswords, secrets_dir

SUPERUSER_PASSWORD = "postgres"
TLS_DIR = "tls"
NATS_CONFIG = "nats.conf"
# The identity `paymesh` itself uses for its gRPC health probes.
CLI_IDENTITY = "paymesh_cli"


def role_passwords(passwords: DevPasswords) -> dict[str, RolePasswords]:
    return {
        schema: RolePasswords(passwords[f"db:{schema}_owner"], passwords[f"db:{schema}_app"])
        for schema in SERVICES_WITH_SCHEMA.values()
    }


@dataclass
class DevSecurity:
    """The secrets of one data dir, and what each process gets of them."""

    data_dir: Path
    passwords: DevPasswords = field(init=False)
    tls: dict[str, TlsFiles] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.passwords = DevPasswords(self.data_dir)

    @property
    def superuser_password(self) -> str:
        return self.passwords[f"db:{SUPERUSER_PASSWORD}"]

    def nats_config(self) -> Path:
        """Write nats-server's users and permissions for this run; returns the file."""
        users = [OPERATOR, *SERVICE_RIGHTS]
        return write_nats_config(
            secrets_dir(self.data_dir) / NATS_CONFIG,
            {user: self.passwords[f"nats:{user}"] for user in users},
        )

    def migrate(self, admin_url: str) -> None:
        """Roles, migrations as each schema's owner, runtime grants (blocking)."""
        migrate_as_roles(admin_url, SERVICES_WITH_SCHEMA, role_passwords(self.passwords))

    def issue_certificates(self, identities: Iterable[str]) -> None:
        """A fresh CA and certificate per identity (and one for the CLI's probes)."""
        self.tls = issue_dev_pki(self.data_dir / TLS_DIR, [*identities, CLI_IDENTITY])

    @property
    def cli_tls(self) -> TlsFiles | None:
        return self.tls.get(CLI_IDENTITY)

    def env_for(self, name: str, *, admin_url: str | None, nats_secured: bool) -> Mapping[str, str]:
        """The variables that carry process `name`'s secrets: its database role (when the
        embedded cluster's `admin_url` is given), its NATS user (when `nats_secured`), its
        certificate."""
        env: dict[str, str] = {}
        schema = SERVICES_WITH_SCHEMA.get(name)
        if admin_url and schema:
            password = self.passwords[f"db:{schema}_app"]
            env["DATABASE_URL"] = url_as(admin_url, runtime_role(schema), password)
        if nats_secured and name in SERVICE_RIGHTS:
            env["NATS_USER"] = name
            env["NATS_PASSWORD"] = self.passwords[f"nats:{name}"]
        if name in self.tls:
            env.update(tls_env(self.tls[name]))
        return env
