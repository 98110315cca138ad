"""Runs every ``benchmarks/bench_*.py`` module's ``main()`` and prints its figures."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    only = sys.argv[1:]
    if only:
        names = [n for n in names if any(o in n for o in only)]
    if not names:
        print("No benchmarks are defined yet (benchmarks/bench_*.py).")
        return 0
    for name in names:
        print(f"== {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
