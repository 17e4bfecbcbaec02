"""An append-only JSON-lines journal: every state change is one line, written before answering.

On start the journal is replayed to rebuild memory. A line torn by a crash mid-write can only be
the last one; it is cut off (that request was never answered). Any other unreadable line stops
the start-up: silently dropping state would hide a charge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class JournalCorrupt(Exception):
    """A line other than the last cannot be read: the state file needs a human."""


class Journal:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None
        self._failure: OSError | None = None

    def open(self) -> Iterator[dict[str, Any]]:
        """Open for appending and yield every record written so far, oldest first."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = self._path.read_bytes() if self._path.exists() else b""
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            # Cut off a torn last line so the next append starts on a line of its own.
            with self._path.open("r+b") as torn:
                torn.truncate(complete)
        self._file = self._path.open("ab")
        return self._records(data[:complete])

    def _records(self, data: bytes) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise JournalCorrupt(f"{self._path}:{number}: unreadable record: {exc}") from None
            if not isinstance(record, dict):
                raise JournalCorrupt(f"{self._path}:{number}: a record must be a JSON object")
            yield record

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and hand it to the OS before returning.

        flush(), not fsync(): the state must survive a killed sandbox, not a lost machine, and
        the benchmark sends thousands of requests.
        """
        if self._failure is not None:
            # A half-written line may sit at the end; appending after it would corrupt the file.
            raise RuntimeError(f"the journal failed earlier ({self._failure}); restart") from None
        if self._file is None:
            raise RuntimeError("the journal is not open; run the app's lifespan")
        try:
            self._file.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
            self._file.flush()
        except OSError as exc:
            self._failure = exc
            raise

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
