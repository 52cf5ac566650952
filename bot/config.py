"""Configuration from environment variables and an optional studyhall.toml.

Environment variables win over the file.  A bad or missing value raises ConfigError naming the
key and what was expected; a secret's value never appears in a message.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.i18n import SUPPORTED_LOCALES, normalize_locale

DEFAULT_CONFIG_FILE = "studyhall.toml"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
DISCORD_INVITE = re.compile(r"^https://(discord\.gg|discord\.com/invite)/[A-Za-z0-9-]{2,40}$")


class ConfigError(Exception):
    """One clear line: which key, what was found, what was expected."""


class Secret:
    """A string that prints as ``***`` wherever it ends up."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SettingSpec:
    env: str
    section: str  # toml table ("" = top level)
    key: str
    secret: bool = False
    # What it is for (studyhall.example.toml and docs/operations/configuration.md are made from it),
    # and the value used when it is unset (None: unset means off, or derived; the help says which).
    help: str = field(default="", compare=False)
    default: str | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        where = f"[{self.section}] {self.key}" if self.section else self.key
        return f"{self.env} (or {where} in {DEFAULT_CONFIG_FILE})"


# Adapters and the settings each needs: (required, optional).
ADAPTER_SETTINGS: dict[str, tuple[tuple[SettingSpec, ...], tuple[SettingSpec, ...]]] = {
    "console": ((), ()),
    "telegram": (
        (
            SettingSpec(
                "TELEGRAM_TOKEN", "telegram", "token", secret=True, help="The bot token from @BotFather."
            ),
        ),
        (
            SettingSpec(
                "TELEGRAM_WEBHOOK_URL",
                "telegram",
                "webhook_url",
                help="The public https URL Telegram posts updates to; unset: long polling.",
            ),
            SettingSpec(
                "TELEGRAM_WEBHOOK_SECRET",
                "telegram",
                "webhook_secret",
                secret=True,
                help=(
                    "The secret Telegram sends with each webhook call; unset: derived from the bot"
                    " token (and STUDYHALL_SECRET_KEY), the same in every process."
                ),
            ),
            SettingSpec(
                "TELEGRAM_API_BASE",
                "telegram",
                "api_base",
                help="The Bot API server (a local Bot API server, or a test emulator).",
                default="https://api.telegram.org",
            ),
        ),
    ),
    "discord": (
        (
            SettingSpec(
                "DISCORD_TOKEN",
                "discord",
                "token",
                secret=True,
                help="The bot token (Developer Portal → your application → Bot).",
            ),
        ),
        (
            SettingSpec(
                "DISCORD_GUILDS",
                "discord",
                "guilds",
                help="Server ids, comma-separated, whose slash commands appear at once.",
            ),
            SettingSpec(
                "DISCORD_GLOBAL_COMMANDS",
                "discord",
                "global_commands",
                help="Register slash commands globally (they take up to an hour to appear).",
                default="false",
            ),
            SettingSpec(
                "DISCORD_SHARD_COUNT",
                "discord",
                "shard_count",
                help="Shards of the bot in all (sharding over several processes); unset: no sharding.",
            ),
            SettingSpec(
                "DISCORD_SHARD_IDS",
                "discord",
                "shard_ids",
                help=(
                    "This process's shards, comma-separated, each 0 to DISCORD_SHARD_COUNT - 1;"
                    " unset: all of them. Shard 0 receives the DMs."
                ),
            ),
            SettingSpec(
                "DISCORD_INVITE",
                "discord",
                "invite",
                help=(
                    "An invite to your server that never expires (https://discord.gg/…):"
                    " course pages show it as 'Open in Discord'."
                ),
            ),
        ),
    ),
    "wechat": (
        (
            SettingSpec("WECHAT_APP_ID", "wechat", "app_id", help="The Official Account's AppID."),
            SettingSpec("WECHAT_APP_SECRET", "wechat", "app_secret", secret=True, help="The AppSecret."),
            SettingSpec(
                "WECHAT_TOKEN",
                "wechat",
                "token",
                secret=True,
                help="The callback Token set in the WeChat console (3 to 32 letters or digits).",
            ),
        ),
        (
            SettingSpec(
                "WECHAT_AES_KEY",
                "wechat",
                "aes_key",
                secret=True,
                help="The EncodingAESKey (43 characters) for safe mode; unset: plain mode.",
            ),
            SettingSpec(
                "WECHAT_API_BASE",
                "wechat",
                "api_base",
                help="The WeChat API base.",
                default="https://api.weixin.qq.com/cgi-bin/",
            ),
            SettingSpec(
                "WECHAT_PATH",
                "wechat",
                "path",
                help="The callback path on the HTTP app.",
                default="/wechat",
            ),
            SettingSpec(
                "WECHAT_QR_DAYS",
                "wechat",
                "qr_days",
                help="Days a temporary invite QR code lasts (1 to 30); unset: permanent codes.",
            ),
        ),
    ),
}

# Payment providers and their settings: (required, optional). A provider is on when its first
# required setting is present; then every required one must be.
PAYMENT_SETTINGS: dict[str, tuple[tuple[SettingSpec, ...], tuple[SettingSpec, ...]]] = {
    "stripe": (
        (
            SettingSpec(
                "STRIPE_SECRET_KEY",
                "stripe",
                "secret_key",
                secret=True,
                help="The Stripe secret key; set: Stripe payments are on.",
            ),
            SettingSpec(
                "STRIPE_WEBHOOK_SECRET",
                "stripe",
                "webhook_secret",
                secret=True,
                help="The signing secret of the Stripe webhook endpoint.",
            ),
            SettingSpec(
                "STUDYHALL_PUBLIC_URL",
                "stripe",
                "public_url",
                help="Where Stripe Checkout sends buyers back to (the same as public_url).",
            ),
        ),
        (
            SettingSpec(
                "STRIPE_API_BASE",
                "stripe",
                "api_base",
                help="The Stripe API base (a test server).",
                default="https://api.stripe.com",
            ),
        ),
    ),
    "wechatpay": (
        (
            SettingSpec(
                "WECHATPAY_MCHID",
                "wechatpay",
                "mchid",
                help="Your WeChat Pay merchant id (商户号); set: WeChat Pay takes CNY orders.",
            ),
            SettingSpec(
                "WECHATPAY_CERT_SERIAL",
                "wechatpay",
                "cert_serial",
                help="The serial number of your merchant API certificate (商户API证书序列号).",
            ),
            SettingSpec(
                "WECHATPAY_PRIVATE_KEY_FILE",
                "wechatpay",
                "private_key_file",
                help="The merchant API certificate's private key (apiclient_key.pem).",
            ),
            SettingSpec(
                "WECHATPAY_APIV3_KEY",
                "wechatpay",
                "apiv3_key",
                secret=True,
                help="The APIv3 key (32 characters) that encrypts notifications.",
            ),
            SettingSpec(
                "STUDYHALL_PUBLIC_URL",
                "wechatpay",
                "public_url",
                help="Where WeChat Pay sends its notifications (the same as public_url; HTTPS).",
            ),
        ),
        (
            SettingSpec(
                "WECHATPAY_APP_ID",
                "wechatpay",
                "app_id",
                help="The AppID payments are made under; unset: the Official Account's (WECHAT_APP_ID).",
            ),
            SettingSpec(
                "WECHATPAY_PUBLIC_KEY_FILE",
                "wechatpay",
                "public_key_file",
                help="The WeChat Pay public key (pub_key.pem); unset: platform certificates are used.",
            ),
            SettingSpec(
                "WECHATPAY_PUBLIC_KEY_ID",
                "wechatpay",
                "public_key_id",
                help="The public key's id (PUB_KEY_ID_…), with WECHATPAY_PUBLIC_KEY_FILE.",
            ),
            SettingSpec(
                "WECHATPAY_API_BASE",
                "wechatpay",
                "api_base",
                help="The WeChat Pay API base (a test server).",
                default="https://api.mch.weixin.qq.com",
            ),
        ),
    ),
}

CORE_SETTINGS = {
    "database_url": SettingSpec(
        "STUDYHALL_DATABASE_URL",
        "",
        "database_url",
        secret=True,
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/DB; "
        "unset: SQLite at DATA_DIR/studyhall.db.",
    ),
    "data_dir": SettingSpec(
        "STUDYHALL_DATA_DIR",
        "",
        "data_dir",
        help="The data folder: the SQLite database and the log file.",
        default="data",
    ),
    "locale": SettingSpec(
        "STUDYHALL_LOCALE", "", "locale", help="The default language: en or zh_CN.", default="en"
    ),
    "timezone": SettingSpec(
        "STUDYHALL_TIMEZONE",
        "",
        "timezone",
        help="The community's IANA time zone, such as Asia/Shanghai.",
        default="UTC",
    ),
    "adapters": SettingSpec(
        "STUDYHALL_ADAPTERS",
        "",
        "adapters",
        help="Comma-separated: console, telegram, discord, wechat; "
        "unset: every adapter whose settings are present (else console).",
    ),
    "community": SettingSpec(
        "STUDYHALL_COMMUNITY", "", "community", help="The community's name.", default="demo"
    ),
    "log_level": SettingSpec(
        "STUDYHALL_LOG_LEVEL",
        "",
        "log_level",
        help="DEBUG, INFO, WARNING or ERROR.",
        default="INFO",
    ),
    "http_host": SettingSpec(
        "STUDYHALL_HTTP_HOST",
        "",
        "http_host",
        help="The address the HTTP app (webhooks, dashboard) listens on, behind your TLS proxy.",
        default="127.0.0.1",
    ),
    "http_port": SettingSpec(
        "STUDYHALL_HTTP_PORT", "", "http_port", help="The HTTP app's port.", default="8080"
    ),
    "public_url": SettingSpec(
        "STUDYHALL_PUBLIC_URL",
        "",
        "public_url",
        help="Where browsers and platforms reach the HTTP app, such as https://hall.example.com; "
        "unset: http://HTTP_HOST:HTTP_PORT.",
    ),
    "secret_key": SettingSpec(
        "STUDYHALL_SECRET_KEY",
        "",
        "secret_key",
        secret=True,
        help="At least 32 random characters; set: the web dashboard is served.",
    ),
    "metrics_token": SettingSpec(
        "STUDYHALL_METRICS_TOKEN",
        "",
        "metrics_token",
        secret=True,
        help="At least 16 random characters; set: /metrics answers any client sending it as a bearer token"
        " (unset: loopback clients only).",
    ),
    "log_format": SettingSpec(
        "STUDYHALL_LOG_FORMAT",
        "log",
        "format",
        help="text (one readable line per record) or json (one JSON object per line).",
        default="text",
    ),
    "log_max_bytes": SettingSpec(
        "STUDYHALL_LOG_MAX_BYTES",
        "log",
        "max_bytes",
        help="The log file is rotated when it reaches this size (bytes).",
        default=str(10 * 1024 * 1024),
    ),
    "log_backups": SettingSpec(
        "STUDYHALL_LOG_BACKUPS",
        "log",
        "backups",
        help="How many rotated log files to keep (studyhall.log.1 ...).",
        default="5",
    ),
}
LOG_FORMATS = ("text", "json")
MIN_SECRET_KEY = 32


@dataclass(frozen=True)
class Config:
    database_url: str = field(repr=False)
    data_dir: Path
    default_locale: str = "en"
    timezone: str = "UTC"
    adapters: tuple[str, ...] = ("console",)
    community: str = "demo"
    log_level: str = "INFO"
    log_format: str = "text"
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    http_host: str = "127.0.0.1"  # the HTTP app (webhooks) listens here, behind your TLS proxy
    http_port: int = 8080
    public_url: str | None = None  # where browsers reach the HTTP app (the dashboard's links)
    secret_key: Secret | None = field(default=None, repr=False)  # without it: no dashboard
    # Without it /metrics answers loopback clients only; with it, a bearer token from anywhere.
    metrics_token: Secret | None = field(default=None, repr=False)
    adapter_settings: Mapping[str, Mapping[str, str | Secret]] = field(default_factory=dict)
    payment_settings: Mapping[str, Mapping[str, str | Secret]] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = make_url(self.database_url).render_as_string(hide_password=True)
        return (
            f"Config(database_url={shown!r}, data_dir={str(self.data_dir)!r}, "
            f"default_locale={self.default_locale!r}, timezone={self.timezone!r}, "
            f"adapters={self.adapters!r}, community={self.community!r}, "
            f"log_level={self.log_level!r}, log_format={self.log_format!r}, "
            f"http={self.http_host}:{self.http_port}, "
            f"adapter_settings={dict(self.adapter_settings)!r}, "
            f"payment_settings={dict(self.payment_settings)!r})"
        )

    def secret_values(self) -> list[str]:
        """Every secret's plain value, so the log filter can redact them."""
        password = self.database_password
        values = list(dict.fromkeys([password, quote(password, safe="")])) if password else []
        for secret in (self.secret_key, self.metrics_token):
            if secret is not None:
                values.append(secret.reveal())
        for settings in (*self.adapter_settings.values(), *self.payment_settings.values()):
            values.extend(v.reveal() for v in settings.values() if isinstance(v, Secret))
        return [v for v in values if v]

    @property
    def base_url(self) -> str:
        """The web address of the HTTP app: STUDYHALL_PUBLIC_URL, else its host and port."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def database_password(self) -> str | None:
        return make_url(self.database_url).password


def load_config(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the Config from ``env`` (default os.environ), the toml file and CLI overrides."""
    env = os.environ if env is None else env
    file_values = _read_toml(config_file, env)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}

    def core(name: str) -> str | None:
        if name in overrides:
            return str(overrides[name])
        return _lookup(CORE_SETTINGS[name], env, file_values) or CORE_SETTINGS[name].default

    data_dir = Path(core("data_dir") or "data").expanduser()
    database_url = core("database_url") or f"sqlite+aiosqlite:///{data_dir / 'studyhall.db'}"
    _check_database_url(database_url)

    locale_value = core("locale") or "en"
    locale = normalize_locale(locale_value)
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(
            f"{CORE_SETTINGS['locale'].label} is {locale_value!r}; "
            f"expected one of {', '.join(SUPPORTED_LOCALES)}"
        )

    timezone = core("timezone") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"{CORE_SETTINGS['timezone'].label} is {timezone!r}; "
            "expected an IANA time zone such as Asia/Shanghai"
        ) from None

    adapters_value = core("adapters")
    if adapters_value is None:
        # Not chosen: every network adapter whose required settings are all present.
        present = [
            name
            for name, (required, _optional) in ADAPTER_SETTINGS.items()
            if required and all(_lookup(spec, env, file_values) is not None for spec in required)
        ]
        adapters_value = ",".join(present) or "console"
    adapters = tuple(dict.fromkeys(a.strip().lower() for a in adapters_value.split(",") if a.strip()))
    for adapter in adapters:
        if adapter not in ADAPTER_SETTINGS:
            raise ConfigError(
                f"{CORE_SETTINGS['adapters'].label} names {adapter!r}; expected a comma-separated list of "
                f"{', '.join(ADAPTER_SETTINGS)}"
            )

    community = (core("community") or "demo").strip()
    if not community or len(community) > 100:
        raise ConfigError(f"{CORE_SETTINGS['community'].label} must be a name of 1 to 100 characters")

    log_level = (core("log_level") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"{CORE_SETTINGS['log_level'].label} is {log_level!r}; expected DEBUG, INFO, WARNING or ERROR"
        )

    log_format = (core("log_format") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"{CORE_SETTINGS['log_format'].label} is {log_format!r}; expected text or json")
    log_max_bytes = _count(core("log_max_bytes") or "", "log_max_bytes", 1024)
    log_backups = _count(core("log_backups") or "", "log_backups", 0)

    http_host = (core("http_host") or "127.0.0.1").strip()
    port_value = core("http_port") or "8080"
    if not port_value.isdigit() or not 1 <= int(port_value) <= 65535:
        raise ConfigError(
            f"{CORE_SETTINGS['http_port'].label} is {port_value!r}; expected a port, 1 to 65535"
        )

    public_url = core("public_url")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{CORE_SETTINGS['public_url'].label} is {public_url!r}; expected an http(s) URL "
            "such as https://studyhall.example.com"
        )
    secret_key = core("secret_key")
    if secret_key is not None and len(secret_key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"{CORE_SETTINGS['secret_key'].label} is too short; expected at least {MIN_SECRET_KEY} "
            'random characters (python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )

    metrics_token = core("metrics_token")
    if metrics_token is not None and len(metrics_token) < 16:
        raise ConfigError(
            f"{CORE_SETTINGS['metrics_token'].label} is too short; expected at least 16 random characters"
        )

    adapter_settings: dict[str, dict[str, str | Secret]] = {}
    for adapter in adapters:
        required, optional = ADAPTER_SETTINGS[adapter]
        values: dict[str, str | Secret] = {}
        for spec in (*required, *optional):
            value = _lookup(spec, env, file_values)
            if value is None:
                if spec in required:
                    raise ConfigError(
                        f"{spec.label} is missing; the {adapter} adapter is enabled and needs it"
                    )
                continue
            values[spec.key] = Secret(value) if spec.secret else value
        adapter_settings[adapter] = values
    _check_discord(adapter_settings.get("discord", {}))
    _check_wechat(adapter_settings.get("wechat", {}))

    payment_settings: dict[str, dict[str, str | Secret]] = {}
    for provider, (required, optional) in PAYMENT_SETTINGS.items():
        if _lookup(required[0], env, file_values) is None:
            continue
        values = {}
        for spec in (*required, *optional):
            value = _lookup(spec, env, file_values)
            if value is None:
                if spec in required:
                    raise ConfigError(f"{spec.label} is missing; {provider} payments are on and need it")
                continue
            values[spec.key] = Secret(value) if spec.secret else value
        payment_settings[provider] = values
    _check_wechatpay(payment_settings.get("wechatpay", {}), adapter_settings.get("wechat", {}))

    return Config(
        database_url=database_url,
        data_dir=data_dir,
        default_locale=locale,
        timezone=timezone,
        adapters=adapters,
        community=community,
        log_level=log_level,
        log_format=log_format,
        log_max_bytes=log_max_bytes,
        log_backups=log_backups,
        http_host=http_host,
        http_port=int(port_value),
        public_url=public_url,
        secret_key=Secret(secret_key) if secret_key is not None else None,
        metrics_token=Secret(metrics_token) if metrics_token is not None else None,
        adapter_settings=adapter_settings,
        payment_settings=payment_settings,
    )


def _check_wechatpay(settings: Mapping[str, str | Secret], wechat: Mapping[str, str | Secret]) -> None:
    """WeChat Pay's settings, as far as they can be checked without the network: the key files
    exist, the APIv3 key is 32 characters, a public key comes with its id, and there is an AppID."""
    if not settings:
        return
    specs = {spec.key: spec for group in PAYMENT_SETTINGS["wechatpay"] for spec in group}
    for key in ("private_key_file", "public_key_file"):
        path = settings.get(key)
        if path is not None and not Path(str(path)).is_file():
            raise ConfigError(f"{specs[key].label} is {str(path)!r}, which is not a file")
    apiv3 = settings["apiv3_key"]
    if len(apiv3.reveal() if isinstance(apiv3, Secret) else apiv3) != 32:
        raise ConfigError(f"{specs['apiv3_key'].label} must be the 32 characters set in the merchant console")
    if ("public_key_file" in settings) != ("public_key_id" in settings):
        raise ConfigError(f"{specs['public_key_file'].label} and {specs['public_key_id'].label} go together")
    if not settings.get("app_id") and not wechat.get("app_id"):
        raise ConfigError(f"{specs['app_id'].label} (or WECHAT_APP_ID) is needed for WeChat Pay")


def config_file_used(config_file: Path | None, env: Mapping[str, str]) -> tuple[Path | None, str]:
    """The file the configuration is read from (None: none) and what named it."""
    if config_file is not None:
        return config_file, "--config"
    if env.get("STUDYHALL_CONFIG"):
        return Path(env["STUDYHALL_CONFIG"]), "STUDYHALL_CONFIG"
    default = Path(DEFAULT_CONFIG_FILE)
    return (default, "default") if default.exists() else (None, "default")


def read_file_values(config_file: Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    return _read_toml(config_file, env)


def lookup(spec: SettingSpec, env: Mapping[str, str], file_values: Mapping[str, Any]) -> str | None:
    """The value set for ``spec`` in the environment or else the file; None when unset."""
    return _lookup(spec, env, file_values)


def _read_toml(config_file: Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    path, source = config_file_used(config_file, env)
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source} points at {path}, which does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} must be saved as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"the configuration file {path} cannot be read: {error.strerror}") from None


def _lookup(spec: SettingSpec, env: Mapping[str, str], file_values: Mapping[str, Any]) -> str | None:
    value = env.get(spec.env)
    if value is None or value == "":
        table = file_values.get(spec.section, {}) if spec.section else file_values
        if not isinstance(table, Mapping):
            raise ConfigError(f"[{spec.section}] in {DEFAULT_CONFIG_FILE} must be a table")
        found = table.get(spec.key)
        if found is None:
            return None
        if isinstance(found, list):
            value = ",".join(str(item) for item in found)
        elif isinstance(found, str | int | float):
            value = str(found)
        else:
            raise ConfigError(f"{spec.label} must be a string")
    return value.strip() or None


def _check_discord(settings: Mapping[str, str | Secret]) -> None:
    guilds = str(settings.get("guilds") or "")
    if any(not guild.strip().isdigit() for guild in guilds.split(",") if guild.strip()):
        spec = ADAPTER_SETTINGS["discord"][1][0]
        raise ConfigError(f"{spec.label} is {guilds!r}; expected server ids separated by commas")
    flag = str(settings.get("global_commands") or "false").lower()
    if flag not in ("1", "0", "true", "false", "yes", "no"):
        spec = ADAPTER_SETTINGS["discord"][1][1]
        raise ConfigError(f"{spec.label} is {flag!r}; expected true or false")
    discord_shards(settings)
    invite = str(settings.get("invite") or "")
    if invite and not DISCORD_INVITE.match(invite):
        spec = next(spec for spec in ADAPTER_SETTINGS["discord"][1] if spec.key == "invite")
        raise ConfigError(
            f"{spec.label} is {invite!r}; expected an invite link like https://discord.gg/AbCd123"
        )


def discord_shards(settings: Mapping[str, str | Secret]) -> tuple[int | None, tuple[int, ...] | None]:
    """(DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS): both None without sharding; ids None when this
    process runs every shard. ConfigError, in one line, for anything else."""
    specs = {spec.key: spec for spec in ADAPTER_SETTINGS["discord"][1]}
    count_text = str(settings.get("shard_count") or "")
    ids_text = str(settings.get("shard_ids") or "")
    if not count_text:
        if ids_text:
            raise ConfigError(
                f"{specs['shard_ids'].label} is set but {specs['shard_count'].label} is not; set both"
            )
        return None, None
    if not count_text.isdigit() or int(count_text) < 1:
        raise ConfigError(
            f"{specs['shard_count'].label} is {count_text!r}; expected a whole number, at least 1"
        )
    count = int(count_text)
    if not ids_text:
        return count, None
    parts = [part.strip() for part in ids_text.split(",")]
    if not all(part.isdigit() and int(part) < count for part in parts):
        raise ConfigError(
            f"{specs['shard_ids'].label} is {ids_text!r}; expected shard numbers from 0 to {count - 1}"
            " separated by commas"
        )
    ids = tuple(int(part) for part in parts)
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{specs['shard_ids'].label} is {ids_text!r}; a shard is listed twice")
    return count, ids


def _check_wechat(settings: Mapping[str, str | Secret]) -> None:
    if not settings:
        return
    specs = {spec.key: spec for spec in (*ADAPTER_SETTINGS["wechat"][0], *ADAPTER_SETTINGS["wechat"][1])}
    aes_key = settings.get("aes_key")
    if isinstance(aes_key, Secret) and (
        len(aes_key.reveal()) != 43 or not aes_key.reveal().replace("+", "").replace("/", "").isalnum()
    ):
        raise ConfigError(
            f"{specs['aes_key'].label} must be the 43-character EncodingAESKey from the WeChat console"
        )
    token = settings.get("token")
    if isinstance(token, Secret) and not (3 <= len(token.reveal()) <= 32 and token.reveal().isalnum()):
        raise ConfigError(
            f"{specs['token'].label} must be 3 to 32 letters or digits, as set in the WeChat console"
        )
    path = str(settings.get("path") or "/wechat")
    if not path.startswith("/"):
        raise ConfigError(f"{specs['path'].label} is {path!r}; expected a path such as /wechat")
    days = str(settings.get("qr_days") or "")
    if days and not (days.isdigit() and 1 <= int(days) <= 30):
        raise ConfigError(
            f"{specs['qr_days'].label} is {days!r}; expected 1 to 30 (days a temporary QR code lasts), "
            "or leave it unset for permanent codes"
        )
    base = str(settings.get("api_base") or "")
    if base and not base.startswith(("http://", "https://")):
        raise ConfigError(f"{specs['api_base'].label} is {base!r}; expected an http(s) URL")


def _count(value: str, name: str, minimum: int) -> int:
    if not value.isdigit() or int(value) < minimum:
        raise ConfigError(
            f"{CORE_SETTINGS[name].label} is {value!r}; expected a whole number, at least {minimum}"
        )
    return int(value)


def all_settings() -> list[SettingSpec]:
    """Every configuration key the code reads, in the order the example file lists them."""
    specs = list(CORE_SETTINGS.values())
    for table in (ADAPTER_SETTINGS, PAYMENT_SETTINGS):
        for required, optional in table.values():
            specs.extend((*required, *optional))
    return specs


def _check_database_url(url: str) -> None:
    label = CORE_SETTINGS["database_url"].label
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"{label} is not a database URL; expected e.g. sqlite+aiosqlite:///data/studyhall.db"
        ) from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ConfigError(
            f"{label} uses driver {parsed.drivername!r}; expected one of {', '.join(SUPPORTED_DRIVERS)}"
        )
