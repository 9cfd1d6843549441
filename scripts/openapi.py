"""Write the plugin app's OpenAPI schema to ui/openapi.json (what `npm run gen:types` types the UI from).

Deterministic (sorted keys, two-space indent, a final newline) so `scripts/ui --check` can fail on
drift: the schema is a build input like the sources, committed beside them. Usage:
    uv run --frozen python scripts/openapi.py [path]   # default: ui/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from inbound.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "ui" / "openapi.json"
    schema = create_app().openapi()
    target.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
