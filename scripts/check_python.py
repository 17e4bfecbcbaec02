"""Exits 1 with a clear message when this interpreter is outside pyproject's requires-python.

Run by scripts/venv.sh with the interpreter `make` picked, before any venv is made, so that an
unsupported Python gets one sentence instead of a pip resolver traceback. Written for any
Python that may be on PATH (no f-strings, no tomllib).
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def supported_range():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    spec = re.search(r'^requires-python\s*=\s*">=(\d+)\.(\d+),<(\d+)\.(\d+)"', text, re.M)
    if spec is None:
        sys.exit('pyproject.toml: requires-python is not of the form ">=3.X,<3.Y"')
    low, high = spec.groups()[:2], spec.groups()[2:]
    return tuple(int(v) for v in low), tuple(int(v) for v in high)


def main():
    low, high = supported_range()
    here = tuple(sys.version_info[:2])
    if low <= here < high:
        return 0
    newest = (high[0], high[1] - 1)
    message = (  # percent format: this file must parse on any old Python
        "paymesh runs on Python %d.%d to %d.%d; %s is Python %d.%d.\n"
        "Install one of those versions and run again, naming it if it is not first on PATH:\n"
        "  make run PY=python%d.%d\n"
    )
    sys.stderr.write(message % (low + newest + (sys.executable,) + here + newest))
    return 1


if __name__ == "__main__":
    sys.exit(main())
