"""PostgreSQL roles per service: least privilege (docs/adr/0002-trusted-hops.md).

For each service schema `<s>`:
- `<s>_owner` owns the schema and everything in it; only migrations connect as it.
- `<s>_app` is what the service connects as: it may read and write its schema's tables, and
  nothing else. It owns nothing, so it cannot ALTER a table or disable a trigger; it is not a
  superuser, so it cannot switch triggers off for its session either; and it may not UPDATE,
  DELETE or TRUNCATE the append-only tables (APPEND_ONLY), whose triggers refuse it too.
No role of one service can use another service's schema.

The superuser creates the roles (idempotently), each service's migrations run as its owner,
and the runtime grants are given again after every migration, so that a new table gets them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from mesh.db import libpq_url

# Tables whose rows are never changed once written, by schema. A table named here that does not
# exist (yet) is skipped.
APPEND_ONLY: Mapping[str, tuple[str, ...]] = {
    "payment": ("payment_order_history", "risk_decisions"),
    "ledger": ("transactions", "entries"),
    "gateway": ("audit_log",),
    "recon": ("resolutions", "fixes"),
}


# Tables a service may read in another service's schema, read-only: reconciliation compares a
# day's payment orders and refunds in one consistent COPY snapshot (docs/adr/0014, 0018), and
# the ledger and wallet with them and with each other (docs/adr/0024). The one exception to
# "no role of one service can use another service's schema".
CROSS_SCHEMA_READS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "recon": {
        "payment": ("payment_orders", "refunds"),
        "ledger": ("transactions", "entries", "account_balances"),
        "wallet": ("balances", "wallet_credits"),
    },
}


def owner_role(schema: str) -> str:
    return f"{schema}_owner"


def runtime_role(schema: str) -> str:
    return f"{schema}_app"


@dataclass(frozen=True)
class RolePasswords:
    """The passwords of one schema's two roles."""

    owner: str
    runtime: str


def load_role_passwords(path: Path) -> dict[str, RolePasswords]:
    """`{"<schema>": {"owner": "...", "runtime": "..."}}` from a JSON file (a mounted Secret)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    try:
        return {schema: RolePasswords(v["owner"], v["runtime"]) for schema, v in raw.items()}
    except (TypeError, KeyError, AttributeError):
        raise ValueError(
            f"{path}: expected {{schema: {{owner, runtime}}}} with a password for each"
        ) from None


def url_as(database_url: str, user: str, password: str) -> str:
    """`database_url` with another user and password."""
    url = make_url(database_url).set(username=user, password=password)
    return url.render_as_string(hide_password=False)


def _connect(admin_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=10)


def ensure_roles(admin_url: str, schema: str, passwords: RolePasswords) -> None:
    """Create (or update the passwords of) the schema's owner and runtime roles, and make the
    owner own the schema and everything already in it (schemas migrated before roles existed
    belonged to the superuser)."""
    from psycopg import sql

    owner = owner_role(schema)
    with _connect(admin_url) as conn:
        for role, password in ((owner, passwords.owner), (runtime_role(schema), passwords.runtime)):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            # A literal: utility statements take no bound parameters. The server stores the
            # SCRAM verifier only (password_encryption=scram-sha-256, the default).
            conn.execute(
                sql.SQL(
                    "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {}"
                ).format(sql.SQL(verb), sql.Identifier(role), sql.Literal(password))
            )
        present = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
        if not present:
            conn.execute(
                sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                    sql.Identifier(schema), sql.Identifier(owner)
                )
            )
            return
        conn.execute(
            sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(
                sql.Identifier(schema), sql.Identifier(owner)
            )
        )
        _hand_over(conn, schema, owner)


def _hand_over(conn, schema: str, owner: str) -> None:  # type: ignore[no-untyped-def]
    """ALTER ... OWNER TO `owner` for what another role owns in `schema`: tables and views
    first (their sequences follow them), then free sequences, then functions."""
    from psycopg import sql

    not_owner = "<> (SELECT oid FROM pg_roles WHERE rolname = %s)"
    for kinds, statement in ((("r", "p", "v", "m"), "TABLE"), (("S",), "SEQUENCE")):
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = %s AND c.relkind = ANY(%s) AND c.relowner {not_owner}",
            (schema, list(kinds), owner),
        ).fetchall()
        for (name,) in rows:
            conn.execute(
                sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                    sql.SQL(statement),
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    sql.Identifier(owner),
                )
            )
    functions = conn.execute(
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
        f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s "
        f"AND p.proowner {not_owner}",
        (schema, owner),
    ).fetchall()
    for name, args in functions:
        conn.execute(
            sql.SQL("ALTER FUNCTION {}.{}(" + args + ") OWNER TO {}").format(
                sql.Identifier(schema), sql.Identifier(name), sql.Identifier(owner)
            )
        )


def grant_runtime(admin_url: str, schema: str, role: str | None = None) -> None:
    """Give the runtime role (`<schema>_app`, or `role` made elsewhere, e.g. by an operator)
    what the service needs at run time, and no more. Run as the superuser or the owner."""
    from psycopg import sql

    s, app = sql.Identifier(schema), sql.Identifier(role or runtime_role(schema))
    with _connect(admin_url) as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, app))
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
                s, app
            )
        )
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                s, app
            )
        )
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            ).fetchall()
        }
        frozen = [t for t in APPEND_ONLY.get(schema, ()) if t in tables]
        if "alembic_version" in tables:
            frozen.append("alembic_version")  # the schema's revision is the owner's business
        for table in frozen:
            conn.execute(
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {}.{} FROM {}").format(
                    s, sql.Identifier(table), app
                )
            )
        if "alembic_version" in tables:
            conn.execute(sql.SQL("REVOKE INSERT ON {}.alembic_version FROM {}").format(s, app))
        for other, readable in CROSS_SCHEMA_READS.get(schema, {}).items():
            present = {
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s", (other,)
                ).fetchall()
            }
            if not present:
                continue  # not migrated (yet): a service's own test database, for one
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(other), app)
            )
            for table in (t for t in readable if t in present):
                conn.execute(
                    sql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                        sql.Identifier(other), sql.Identifier(table), app
                    )
                )


def parse_runtime_roles(text: str) -> dict[str, str]:
    """`payment=payment_svc,ledger=ledger_svc` -> {schema: role}."""
    roles: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        schema, _, role = part.partition("=")
        if not part:
            continue
        if not schema.strip() or not role.strip():
            raise ValueError(f"{part!r} is not schema=role")
        roles[schema.strip()] = role.strip()
    return roles


def migrate_as_roles(
    admin_url: str, packages: Mapping[str, str], passwords: Mapping[str, RolePasswords]
) -> None:
    """For each package (its schema in `packages`), in order: roles as the superuser, the
    migrations as the schema's owner, then the runtime grants."""
    from mesh.migrations import upgrade

    missing = sorted(set(packages.values()) - set(passwords))
    if missing:
        raise ValueError(f"no role passwords for the schemas {', '.join(missing)}")
    for package, schema in packages.items():
        secret = passwords[schema]
        ensure_roles(admin_url, schema, secret)
        upgrade(package, url_as(admin_url, owner_role(schema), secret.owner))
        grant_runtime(admin_url, schema)
