"""Layer boundaries: core/ and jobs/ import no platform or payment SDK, and never bot/ or web/;
web/ imports core/, never bot/ (nor its handlers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"telegram", "discord", "wechatpy", "stripe", "aiohttp", "bot", "web", "aiohttp_jinja2", "jinja2"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((ROOT / package).rglob("*.py"))]


@pytest.mark.parametrize("path", python_files("core", "jobs"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_and_jobs_import_no_sdk(path: Path) -> None:
    leaked = imported_roots(path) & FORBIDDEN
    assert not leaked, f"{path.relative_to(ROOT)} imports {sorted(leaked)}"


def test_the_check_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import telegram.ext\nfrom stripe import Webhook\nfrom . import sibling\n")
    assert imported_roots(sample) == {"telegram", "stripe"}


def test_handlers_do_not_touch_the_database_directly() -> None:
    for path in python_files("bot/handlers", "bot/adapters"):
        roots = imported_roots(path)
        assert "sqlalchemy" not in roots, f"{path.relative_to(ROOT)} imports sqlalchemy"


@pytest.mark.parametrize("path", python_files("web"), ids=lambda p: str(p.relative_to(ROOT)))
def test_web_imports_the_core_never_bot(path: Path) -> None:
    roots = imported_roots(path)
    assert "bot" not in roots and not roots & {"telegram", "discord", "wechatpy", "stripe"}, path
