"""Fails, saying to run `make lock`, when requirements/*.txt are out of step with pyproject.toml.

Offline and quick (make venv and make test run it): every dependency of pyproject (the runtime
list for runtime.txt, that plus the `dev` extra for dev.txt) must be pinned in the lock at a
version its specifier allows, every package the lock holds only for pyproject must still be
asked for there, the pins of requirements/pins.txt must hold, and the two locks must agree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
FIX = "Run `make lock` and commit requirements/ (the lead runs it once after merging)."


def read_lock(path: Path) -> tuple[dict[str, str], set[str]]:
    """The pins of a lock, and the packages it holds only because pyproject asks for them."""
    pins: dict[str, str] = {}
    only_for_pyproject: set[str] = set()
    current = ""
    vias: list[str] = []

    def close() -> None:
        wanted_by = [v for v in vias if not v.startswith("-c ")]  # constraints ask for nothing
        if current and wanted_by and all(v.startswith("paymesh") for v in wanted_by):
            only_for_pyproject.add(current)

    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            close()
            current, vias = canonicalize_name(match.group(1)), []
            pins[current] = match.group(2)
            continue
        text = line.strip().lstrip("#").strip()
        if text.startswith("via "):
            vias.append(text[4:].strip())
        elif line.startswith("    #   ") and text:
            vias.append(text)
    close()
    return pins, only_for_pyproject


def problems(lock: Path, wanted: list[str], constraints: dict[str, str]) -> list[str]:
    pins, only_for_pyproject = read_lock(lock)
    found: list[str] = []
    asked = set()
    for line in wanted:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        asked.add(name)
        if req.marker is not None and not req.marker.evaluate():
            continue
        if name not in pins:
            found.append(f"{req} is not locked")
        elif not req.specifier.contains(pins[name], prereleases=True):
            found.append(f"{req} does not allow the locked {name}=={pins[name]}")
    for name in sorted(only_for_pyproject - asked):
        found.append(f"{name}=={pins[name]} is locked but pyproject no longer asks for it")
    for name, version in constraints.items():
        if name in pins and pins[name] != version:
            found.append(f"{name} is locked at {pins[name]}, requirements/pins.txt says {version}")
    return [f"{lock.relative_to(ROOT)}: {p}" for p in found]


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = list(project["dependencies"])
    dev = runtime + list(project["optional-dependencies"]["dev"])
    constraints = dict(read_lock(REQ / "pins.txt")[0])
    found = problems(REQ / "runtime.txt", runtime, constraints)
    found += problems(REQ / "dev.txt", dev, constraints)
    runtime_pins, dev_pins = read_lock(REQ / "runtime.txt")[0], read_lock(REQ / "dev.txt")[0]
    for name in sorted(runtime_pins.keys() & dev_pins.keys()):
        if runtime_pins[name] != dev_pins[name]:
            found.append(f"{name}: runtime.txt has {runtime_pins[name]}, dev.txt {dev_pins[name]}")
    if found:
        print("The lock is out of step with pyproject.toml:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        print(FIX, file=sys.stderr)
        return 1
    print("requirements/ is in step with pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
