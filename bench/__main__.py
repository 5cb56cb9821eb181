"""`python -m bench NAME [args...]` runs `bench/NAME.py`'s `main()` (sync or async)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

HELPERS = {"common", "bare_app"}


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in HELPERS and not m.name.startswith("_")
    )


def run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench NAME [args...]\nbenches: {', '.join(available())}")
        return 0 if argv else 2
    name = argv[0]
    if name not in available():
        print(f"no bench named {name!r}; benches: {', '.join(available())}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    sys.argv = [f"python -m bench {name}", *argv[1:]]
    result = module.main()
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
