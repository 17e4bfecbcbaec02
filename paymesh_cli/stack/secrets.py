"""The dev stack's passwords: made at first start, kept in `<data-dir>/secrets/passwords.json`
(directory 0700, file 0600) so that the PostgreSQL cluster and its roles keep working across
runs. They reach the processes through their environment or files, never their argv."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

SECRETS_DIR = "secrets"
PASSWORDS_FILE = "passwords.json"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (never readable by others, not even
    briefly)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def secrets_dir(data_dir: Path) -> Path:
    path = data_dir / SECRETS_DIR
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


class DevPasswords:
    """Named passwords of one data dir; a name asked for the first time gets a new one."""

    def __init__(self, data_dir: Path) -> None:
        self.path = secrets_dir(data_dir) / PASSWORDS_FILE
        try:
            self._known: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._known = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._known:
            # URL-safe, so that it can stand in a connection URL as it is.
            self._known[name] = secrets.token_urlsafe(24)
            write_private(self.path, json.dumps(self._known, indent=2, sort_keys=True) + "\n")
        return self._known[name]
