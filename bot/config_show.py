"""``studyhall config show``: every configuration key with its effective value and where it came
from (default, file, environment); secrets shown as ***."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config import (
    ADAPTER_SETTINGS,
    CORE_SETTINGS,
    PAYMENT_SETTINGS,
    Config,
    Secret,
    SettingSpec,
    all_settings,
    config_file_used,
    lookup,
    read_file_values,
)
from core.storage.database import safe_url

UNSET = "(unset)"


@dataclass(frozen=True)
class Shown:
    spec: SettingSpec
    value: str
    source: str  # default | file | environment

    @property
    def name(self) -> str:
        return f"{self.spec.section}.{self.spec.key}" if self.spec.section else self.spec.key


def effective(config: Config, config_file: Path | None, env: Mapping[str, str]) -> list[Shown]:
    """Each key's value as the running studyhall sees it (normalised, secrets masked)."""
    file_values = read_file_values(config_file, env)
    rows = []
    for spec in all_settings():
        raw = lookup(spec, env, file_values)
        if (env.get(spec.env) or "").strip():
            source = "environment"
        elif raw is not None:
            source = "file"
        else:
            source = "default"
        rows.append(Shown(spec, _value(spec, config, raw), source))
    return rows


def _value(spec: SettingSpec, config: Config, raw: str | None) -> str:
    core = {id(s): name for name, s in CORE_SETTINGS.items()}
    name = core.get(id(spec))
    if name == "database_url":
        return safe_url(config.database_url)
    if name is not None:
        value = getattr(config, _CORE_ATTRIBUTES.get(name, name))
        if isinstance(value, tuple):
            value = ",".join(value)
    else:
        value = _platform_value(spec, config)
        if value is None:
            value = raw if raw is not None else spec.default
    if value is None:
        return UNSET
    if spec.secret or isinstance(value, Secret):
        return "***"
    return str(value)


_CORE_ATTRIBUTES = {"locale": "default_locale"}


def _platform_value(spec: SettingSpec, config: Config) -> str | Secret | None:
    for table, settings in (
        (ADAPTER_SETTINGS, config.adapter_settings),
        (PAYMENT_SETTINGS, config.payment_settings),
    ):
        for owner, (required, optional) in table.items():
            if spec in (*required, *optional) and owner in settings:
                return settings[owner].get(spec.key)
    return None


def show(config: Config, config_file: Path | None, env: Mapping[str, str]) -> str:
    path, named_by = config_file_used(config_file, env)
    where = f"{path} (from {named_by})" if path else "none (no studyhall.toml here, no STUDYHALL_CONFIG)"
    rows = effective(config, config_file, env)
    width = max(len(row.name) for row in rows)
    lines = [f"configuration file: {where}", f"adapters on: {', '.join(config.adapters)}", ""]
    for row in rows:
        lines.append(f"{row.name:<{width}}  {row.value}  [{row.source}; {row.spec.env}]")
    return "\n".join(lines)
