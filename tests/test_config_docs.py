"""studyhall.example.toml and docs/operations/configuration.md hold every key bot/config.py
reads (the key list comes from the code, never from a hand list), and are what
``python -m bot.config_docs`` makes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bot.config import all_settings, load_config
from bot.config_docs import EXAMPLE, REFERENCE, configuration_markdown, example_toml

REFRESH = "out of date: run .venv/bin/python -m bot.config_docs"


def _uncommented(text: str) -> dict[str, object]:
    """The example file with its commented ``# key = value`` lines switched on."""
    lines = [re.sub(r"^# (\w+ = )", r"\1", line) for line in text.splitlines()]
    return tomllib.loads("\n".join(lines))


def test_every_key_is_in_the_example_file() -> None:
    values = _uncommented(EXAMPLE.read_text(encoding="utf-8"))
    missing = []
    for spec in all_settings():
        table = values.get(spec.section, {}) if spec.section else values
        if not isinstance(table, dict) or spec.key not in table:
            missing.append(f"[{spec.section}] {spec.key}" if spec.section else spec.key)
    assert not missing, f"studyhall.example.toml lacks {missing}; {REFRESH}"


def test_the_example_names_each_environment_variable() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert all(f"# {spec.env}" in text for spec in all_settings())


def test_the_defaults_it_shows_are_accepted(tmp_path: Path) -> None:
    values = _uncommented(EXAMPLE.read_text(encoding="utf-8"))
    defaults = {spec.key for spec in all_settings() if spec.default is not None and not spec.section}

    def line(key: str, value: object) -> str:
        return f"{key} = {value}" if isinstance(value, int) else f'{key} = "{value}"'

    lines = [line(key, value) for key, value in values.items() if key in defaults]
    lines += ["[log]", *(line(key, value) for key, value in values["log"].items())]
    path = tmp_path / "studyhall.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(env={}, config_file=path)
    assert config == load_config(env={})


def test_the_reference_page_lists_every_key() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert all(f"| `{spec.env}` | `{spec.key}` |" in text for spec in all_settings())


def test_both_files_are_what_the_generator_makes() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == example_toml(), REFRESH
    assert REFERENCE.read_text(encoding="utf-8") == configuration_markdown(), REFRESH
