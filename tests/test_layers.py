"""The import structure holds: the contracts written in pyproject.toml (import-linter, as `make
lint` checks them), and no two modules of the portal import each other, directly or in a circle.

Tests and migrations are left out of the circle check, and so are imports made only for type
checking (``if TYPE_CHECKING:``), which never run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
APPS = ("portal", "tenants", "governance", "chargeback")


def _counted(module: str) -> bool:
    return ".tests" not in module and ".migrations" not in module


def import_circles() -> list[list[str]]:
    """Every set of modules that import each other, directly or in a circle (Tarjan)."""
    graph = grimp.build_graph(*APPS, exclude_type_checking_imports=True)
    modules = sorted(m for m in graph.modules if _counted(m))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if not _counted(imported):
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == module:
                    break
            if len(members) > 1:
                circles.append(sorted(members))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules)))
    for module in modules:
        if module not in index:
            visit(module)
    return circles


def test_the_import_contracts_of_pyproject_hold():
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


def test_no_two_modules_import_each_other_directly_or_in_a_circle():
    assert import_circles() == []
