"""Write the gateway's OpenAPI document to a file (make gen: docs/openapi.json, committed), built
offline exactly as the gateway builds the one it serves at /openapi.json.

Usage: python scripts/write_openapi.py [--out docs/openapi.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateway.comments import proto_comments
from gateway.openapi import build_openapi
from gateway.routes import FRONTED_SERVICES, derive_routes

ROOT = Path(__file__).resolve().parent.parent


def document() -> dict[str, Any]:
    return build_openapi(derive_routes(FRONTED_SERVICES), proto_comments(FRONTED_SERVICES))


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "openapi.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(document()))


if __name__ == "__main__":
    main()
