"""The dependencies the code imports are the ones pyproject.toml declares, and the lock files pin
every declared requirement at a version its bounds allow.

Runtime code (the four apps, outside their tests) may import only the runtime dependencies, plus
the extra of the cloud target a target module serves; the benchmarks may import the runtime and
the ``bench`` extra; tests may import anything declared, the ``dev`` extra included. The lock
files are ``requirements/runtime.txt`` (the image) and ``requirements/dev.txt`` (``make install``
and CI); ``make lock`` writes both.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
APPS = ("portal", "tenants", "governance", "chargeback")
LOCAL = {*APPS, "benchmarks", "tests", "conftest"}
# Modules that import the packages of an extra, beyond the runtime.
EXTRA_MODULES = {
    "portal/deployments/targets/kserve.py": "kserve",
    "portal/deployments/targets/sagemaker.py": "sagemaker",
    "governance/anchors.py": "s3",
}
# Imported by a benchmark in a virtualenv of its own that the benchmark makes, never here.
OWN_VIRTUALENV = {"evidently"}


@cache
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(group: str) -> list[Requirement]:
    """The requirements of ``runtime`` or of one extra, with the extras an extra names resolved."""
    if group == "runtime":
        return [Requirement(line) for line in project()["dependencies"]]
    found = []
    for line in project()["optional-dependencies"][group]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == canonicalize_name(project()["name"]):
            for extra in sorted(requirement.extras):
                found += requirements(extra)
        else:
            found.append(requirement)
    return found


def declared(*groups: str) -> set[str]:
    return {canonicalize_name(r.name) for group in groups for r in requirements(group)}


def third_party_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in LOCAL}


def undeclared(paths: list[Path], allowed_for) -> list[str]:
    providers = packages_distributions()
    missing = []
    for path in paths:
        relative = path.relative_to(ROOT).as_posix()
        allowed = allowed_for(relative)
        for name in sorted(third_party_imports(path) - OWN_VIRTUALENV):
            distributions = {canonicalize_name(d) for d in providers.get(name, [])}
            if not distributions & allowed:
                missing.append(f"{relative} imports {name} ({', '.join(distributions) or '?'})")
    return missing


def is_test_code(relative: str) -> bool:
    parts = relative.split("/")
    return "tests" in parts or parts[-1] == "conftest.py"


def test_runtime_code_imports_only_runtime_dependencies_and_its_targets_extra() -> None:
    paths = [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if not is_test_code(path.relative_to(ROOT).as_posix())
    ]

    def allowed_for(relative: str) -> set[str]:
        extra = EXTRA_MODULES.get(relative)
        return declared("runtime", extra) if extra else declared("runtime")

    assert undeclared(paths, allowed_for) == []


def test_benchmarks_import_only_the_runtime_and_the_bench_extra() -> None:
    paths = sorted((ROOT / "benchmarks").rglob("*.py"))
    assert undeclared(paths, lambda _relative: declared("runtime", "bench")) == []


def test_tests_import_only_declared_packages() -> None:
    paths = [ROOT / "conftest.py", *sorted((ROOT / "tests").rglob("*.py"))]
    paths += [p for app in APPS for p in sorted((ROOT / app).rglob("*.py"))]
    paths = [p for p in paths if is_test_code(p.relative_to(ROOT).as_posix())]
    assert undeclared(paths, lambda _relative: declared("runtime", "dev")) == []


def pins(lock: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[canonicalize_name(match[1])] = match[3]
    return found


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        ("runtime.txt", ("runtime", "kserve", "sagemaker", "s3")),
        ("dev.txt", ("runtime", *project()["optional-dependencies"])),
    ],
)
def test_the_lock_pins_every_declared_requirement_within_its_bounds(
    lock: str, groups: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    wrong = []
    for group in groups:
        for requirement in requirements(group):
            version = pinned.get(canonicalize_name(requirement.name))
            if version is None:
                wrong.append(f"{requirement} ({group}) is not in requirements/{lock}")
            elif not requirement.specifier.contains(version, prereleases=True):
                wrong.append(
                    f"{requirement} ({group}) is pinned at {version} in requirements/{lock}"
                )
    assert wrong == [], "run `make lock` after editing pyproject.toml"


def test_the_image_and_make_install_pin_the_same_versions() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    assert {
        name: (version, dev.get(name))
        for name, version in runtime.items()
        if dev.get(name) != version
    } == {}
