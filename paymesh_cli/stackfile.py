"""`<data-dir>/stack.json`: where `paymesh dev` tells other commands how to reach its stack."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

STACK_FILE = "stack.json"
DEFAULT_DATA_DIR = ".paymesh"


class StackFileError(FileNotFoundError):
    """No usable stack file in the data dir."""


@dataclass(frozen=True)
class StackInfo:
    gateway_url: str
    database_url: str
    nats_url: str
    psp_api_base: str
    psp_api_key: str
    api_key_file: str  # absolute path of the file holding the dev API key

    @staticmethod
    def path(data_dir: Path | str) -> Path:
        return Path(data_dir) / STACK_FILE

    @classmethod
    def load(cls, data_dir: Path | str) -> StackInfo:
        """Read `<data_dir>/stack.json`; StackFileError if missing or incomplete."""
        path = cls.path(data_dir)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StackFileError(
                f"no stack found at {path}; start one with `paymesh dev --data-dir {data_dir}`"
            ) from None
        except (OSError, ValueError) as exc:
            raise StackFileError(f"unreadable stack file {path}: {exc}") from None
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if not isinstance(raw.get(n), str)]
        if missing:
            raise StackFileError(f"stack file {path} lacks {', '.join(missing)}")
        return cls(**{n: raw[n] for n in names})  # unknown keys are ignored

    def save(self, data_dir: Path | str) -> Path:
        """Write `<data_dir>/stack.json` atomically; returns its path."""
        path = self.path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        # It holds the superuser's database URL: the owner's only, from the first byte on.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def api_key(self) -> str:
        """The dev API key (contents of `api_key_file`)."""
        return Path(self.api_key_file).read_text(encoding="utf-8").strip()
