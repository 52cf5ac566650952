"""bot/config.py: environment over studyhall.toml, clear errors, secrets kept out of text."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, ConfigError, Secret, all_settings, discord_shards, load_config

DB_PASSWORD = "pw-Xq81zLk"
PG_URL = f"postgresql+asyncpg://studyhall:{DB_PASSWORD}@db.internal:5432/studyhall"
TELEGRAM_TOKEN = "123456:tg-token-Zr7"
WEBHOOK_SECRET = "hook-secret-Pm4"


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray ./studyhall.toml is read."""
    monkeypatch.chdir(tmp_path)


def _toml(tmp_path: Path, text: str, name: str = "custom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults and sources -------------------------------------------------------------------


def test_defaults() -> None:
    config = load_config(env={})
    assert config == Config(
        database_url="sqlite+aiosqlite:///data/studyhall.db",
        data_dir=Path("data"),
        default_locale="en",
        timezone="UTC",
        adapters=("console",),
        community="demo",
        log_level="INFO",
        adapter_settings={"console": {}},
    )
    assert config.secret_values() == []
    assert config.database_password is None


def test_default_database_lives_in_the_data_dir() -> None:
    config = load_config(env={"STUDYHALL_DATA_DIR": "/srv/hall"})
    assert config.data_dir == Path("/srv/hall")
    assert config.database_url == "sqlite+aiosqlite:////srv/hall/studyhall.db"


def test_file_values_are_read(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'community = "from-file"\nlocale = "zh"\ntimezone = "Asia/Shanghai"\n'
        'adapters = ["telegram", "console"]\nlog_level = "debug"\n'
        f'[telegram]\ntoken = "{TELEGRAM_TOKEN}"\nwebhook_url = "https://example.test/hook"\n',
    )
    config = load_config(env={}, config_file=path)
    assert config.community == "from-file"
    assert config.default_locale == "zh_CN"
    assert config.timezone == "Asia/Shanghai"
    assert config.adapters == ("telegram", "console")
    assert config.log_level == "DEBUG"
    assert config.adapter_settings["telegram"] == {
        "token": Secret(TELEGRAM_TOKEN),
        "webhook_url": "https://example.test/hook",
    }


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'community = "from-file"\nlocale = "zh_CN"\nadapters = "telegram"\n'
        '[telegram]\ntoken = "file-token"\n',
    )
    env = {"STUDYHALL_COMMUNITY": "from-env", "TELEGRAM_TOKEN": "env-token"}
    config = load_config(env=env, config_file=path)
    assert config.community == "from-env"
    assert config.default_locale == "zh_CN"  # not in env: the file's value
    assert config.adapter_settings["telegram"]["token"] == Secret("env-token")


def test_empty_environment_value_falls_back_to_the_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'community = "from-file"\n')
    assert load_config(env={"STUDYHALL_COMMUNITY": ""}, config_file=path).community == "from-file"


def test_overrides_win_over_environment_and_none_is_ignored() -> None:
    env = {"STUDYHALL_COMMUNITY": "from-env", "STUDYHALL_LOCALE": "zh_CN"}
    config = load_config(env=env, overrides={"community": "from-cli", "locale": None})
    assert config.community == "from-cli"
    assert config.default_locale == "zh_CN"


def test_studyhall_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    _toml(tmp_path, 'community = "local"\n', name="studyhall.toml")
    assert load_config(env={}).community == "local"


def test_studyhall_config_env_names_the_file(tmp_path: Path) -> None:
    _toml(tmp_path, 'community = "local"\n', name="studyhall.toml")
    other = _toml(tmp_path, 'community = "elsewhere"\n', name="other.toml")
    assert load_config(env={"STUDYHALL_CONFIG": str(other)}).community == "elsewhere"


def test_studyhall_config_pointing_at_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as error:
        load_config(env={"STUDYHALL_CONFIG": str(missing)})
    assert "STUDYHALL_CONFIG" in str(error.value)
    assert str(missing) in str(error.value)


def test_invalid_toml_is_a_config_error_without_the_secret(tmp_path: Path) -> None:
    path = _toml(tmp_path, f"[telegram]\ntoken = {TELEGRAM_TOKEN}\n")  # unquoted
    with pytest.raises(ConfigError) as error:
        load_config(env={}, config_file=path)
    assert "is not valid TOML" in str(error.value)
    assert str(path) in str(error.value)
    assert TELEGRAM_TOKEN not in str(error.value)


def test_toml_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes('community = "学习小组"\n'.encode("gbk"))
    with pytest.raises(ConfigError):
        load_config(env={}, config_file=path)


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'adapters = "telegram"\ntelegram = "oops"\n')
    with pytest.raises(ConfigError, match=r"\[telegram\] in studyhall.toml must be a table"):
        load_config(env={}, config_file=path)


def test_a_value_that_is_not_a_string(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[community]\nname = 'x'\n")
    with pytest.raises(ConfigError) as error:
        load_config(env={}, config_file=path)
    assert "STUDYHALL_COMMUNITY" in str(error.value)
    assert "must be a string" in str(error.value)


# -- normalising values ---------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("zh", "zh_CN"), ("zh-cn", "zh_CN"), ("EN_us", "en")])
def test_locale_is_normalised(value: str, expected: str) -> None:
    assert load_config(env={"STUDYHALL_LOCALE": value}).default_locale == expected


def test_adapters_are_lower_cased_trimmed_and_deduplicated() -> None:
    env = {"STUDYHALL_ADAPTERS": " Telegram, console,,telegram ", "TELEGRAM_TOKEN": TELEGRAM_TOKEN}
    config = load_config(env=env)
    assert config.adapters == ("telegram", "console")
    assert set(config.adapter_settings) == {"telegram", "console"}


def test_settings_are_stripped() -> None:
    env = {"STUDYHALL_COMMUNITY": "  hall  ", "STUDYHALL_TIMEZONE": " Asia/Shanghai "}
    config = load_config(env=env)
    assert config.community == "hall"
    assert config.timezone == "Asia/Shanghai"


def test_postgresql_url_is_accepted() -> None:
    config = load_config(env={"STUDYHALL_DATABASE_URL": PG_URL})
    assert config.database_url == PG_URL
    assert config.database_password == DB_PASSWORD


# -- errors name the key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("STUDYHALL_LOCALE", "fr"),
        ("STUDYHALL_TIMEZONE", "Mars/Olympus_Mons"),
        ("STUDYHALL_TIMEZONE", "../../etc/passwd"),
        ("STUDYHALL_DATABASE_URL", "mysql://root@localhost/hall"),
        ("STUDYHALL_DATABASE_URL", "sqlite:///plain-driver.db"),
        ("STUDYHALL_DATABASE_URL", "not a url"),
        ("STUDYHALL_ADAPTERS", "console,irc"),
        ("STUDYHALL_LOG_LEVEL", "verbose"),
        ("STUDYHALL_COMMUNITY", "x" * 101),
        ("STUDYHALL_LOG_FORMAT", "xml"),
        ("STUDYHALL_LOG_MAX_BYTES", "10MB"),
        ("STUDYHALL_LOG_MAX_BYTES", "100"),
        ("STUDYHALL_LOG_BACKUPS", "-1"),
    ],
)
def test_bad_value_names_the_env_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={key: value})
    assert key in str(error.value)


@pytest.mark.parametrize("value", ["Asia", "Europe/" + "x" * 300], ids=["folder", "too-long"])
def test_timezone_that_is_a_folder_or_too_long_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="STUDYHALL_TIMEZONE"):
        load_config(env={"STUDYHALL_TIMEZONE": value})


def test_bad_value_from_the_file_also_names_the_env_key(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'locale = "de"\n')
    with pytest.raises(ConfigError) as error:
        load_config(env={}, config_file=path)
    assert "STUDYHALL_LOCALE (or locale in studyhall.toml)" in str(error.value)
    assert "'de'" in str(error.value)


def test_telegram_without_token_names_telegram_token() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={"STUDYHALL_ADAPTERS": "telegram"})
    assert "TELEGRAM_TOKEN" in str(error.value)
    assert "telegram adapter" in str(error.value)


@pytest.mark.parametrize(
    ("adapter", "env", "missing"),
    [
        ("discord", {}, "DISCORD_TOKEN"),
        ("wechat", {"WECHAT_APP_ID": "wx1", "WECHAT_TOKEN": "wt-secret-1"}, "WECHAT_APP_SECRET"),
        ("wechat", {"WECHAT_APP_SECRET": "ws-secret-1", "WECHAT_TOKEN": "wt-secret-1"}, "WECHAT_APP_ID"),
    ],
)
def test_each_adapter_names_its_missing_setting(adapter: str, env: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={"STUDYHALL_ADAPTERS": adapter, **env})
    text = str(error.value)
    assert missing in text
    for value in env.values():
        if "secret" in value:
            assert value not in text


def test_disabled_adapter_settings_are_not_required_nor_kept() -> None:
    config = load_config(env={"STUDYHALL_ADAPTERS": "console", "TELEGRAM_TOKEN": TELEGRAM_TOKEN})
    assert "telegram" not in config.adapter_settings
    assert TELEGRAM_TOKEN not in config.secret_values()


def test_without_a_choice_every_adapter_with_its_settings_present_is_enabled() -> None:
    config = load_config(env={"TELEGRAM_TOKEN": TELEGRAM_TOKEN, "WECHAT_APP_ID": "wx1"})
    assert config.adapters == ("telegram",)  # WeChat lacks its secret and token: not enabled
    assert load_config(env={}).adapters == ("console",)


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"mysql+aiomysql://studyhall:{DB_PASSWORD}@db.internal/studyhall",
        f"postgresql://studyhall:{DB_PASSWORD}@db.internal/studyhall",
        f"::{DB_PASSWORD}::",
    ],
)
def test_database_password_is_not_in_the_error(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={"STUDYHALL_DATABASE_URL": url})
    assert "STUDYHALL_DATABASE_URL" in str(error.value)
    assert DB_PASSWORD not in str(error.value)


def test_token_is_not_in_an_error_about_another_setting() -> None:
    env = {
        "STUDYHALL_ADAPTERS": "telegram",
        "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "STUDYHALL_LOG_LEVEL": "loud",
    }
    with pytest.raises(ConfigError) as error:
        load_config(env=env)
    assert TELEGRAM_TOKEN not in str(error.value)


WECHAT_TOKEN = "wxToken8"
WECHAT_AES_KEY = "wxAesKey7aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # an EncodingAESKey is 43 characters


def _full_env() -> dict[str, str]:
    return {
        "STUDYHALL_DATABASE_URL": PG_URL,
        "STUDYHALL_ADAPTERS": "telegram,wechat",
        "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_WEBHOOK_URL": "https://example.test/tg",
        "WECHAT_APP_ID": "wx-public-id",
        "WECHAT_APP_SECRET": "wx-app-secret-9",
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_AES_KEY": WECHAT_AES_KEY,
    }


def test_secret_values_lists_every_secret_and_nothing_else() -> None:
    config = load_config(env=_full_env())
    assert sorted(config.secret_values()) == sorted(
        [DB_PASSWORD, TELEGRAM_TOKEN, WEBHOOK_SECRET, "wx-app-secret-9", WECHAT_TOKEN, WECHAT_AES_KEY]
    )


def test_secret_settings_are_wrapped_and_public_ones_are_not() -> None:
    settings = load_config(env=_full_env()).adapter_settings
    assert isinstance(settings["telegram"]["token"], Secret)
    assert settings["telegram"]["token"].reveal() == TELEGRAM_TOKEN  # type: ignore[union-attr]
    assert settings["telegram"]["webhook_url"] == "https://example.test/tg"
    assert settings["wechat"]["app_id"] == "wx-public-id"


def test_secret_prints_as_stars() -> None:
    secret = Secret(TELEGRAM_TOKEN)
    assert TELEGRAM_TOKEN not in repr(secret)
    assert TELEGRAM_TOKEN not in str(secret)
    assert TELEGRAM_TOKEN not in f"{secret}"
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"


def test_adapter_secrets_are_not_in_repr_of_config() -> None:
    text = repr(load_config(env=_full_env()))
    for value in (TELEGRAM_TOKEN, WEBHOOK_SECRET, "wx-app-secret-9", WECHAT_TOKEN, WECHAT_AES_KEY):
        assert value not in text
    assert "wx-public-id" in text  # public settings still show, to help debugging


def test_database_password_is_not_in_repr_of_config() -> None:
    config = load_config(env={"STUDYHALL_DATABASE_URL": PG_URL})
    assert DB_PASSWORD not in repr(config)
    assert DB_PASSWORD not in str(config)


def test_discord_guilds_and_global_commands() -> None:
    config = load_config(
        env={"DISCORD_TOKEN": "d-secret-1", "DISCORD_GUILDS": "111, 222", "DISCORD_GLOBAL_COMMANDS": "true"}
    )
    assert "discord" in config.adapters
    settings = config.adapter_settings["discord"]
    assert settings["guilds"] == "111, 222" and settings["global_commands"] == "true"
    invite = load_config(env={"DISCORD_TOKEN": "x", "DISCORD_INVITE": "https://discord.com/invite/AbCd-123"})
    assert invite.adapter_settings["discord"]["invite"] == "https://discord.com/invite/AbCd-123"
    assert "d-secret-1" in config.secret_values() and "d-secret-1" not in repr(config)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DISCORD_GUILDS", "111,my-server"),
        ("DISCORD_GLOBAL_COMMANDS", "maybe"),
        ("DISCORD_INVITE", "http://discord.gg/abc123"),
        ("DISCORD_INVITE", "https://evil.example/discord.gg/abc"),
    ],
)
def test_bad_discord_settings_name_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={"DISCORD_TOKEN": "d-secret-1", key: value})
    assert key in str(error.value) and "d-secret-1" not in str(error.value)


def test_the_dashboard_settings() -> None:
    key = "k" * 40
    config = load_config({"STUDYHALL_SECRET_KEY": key, "STUDYHALL_PUBLIC_URL": "https://hall.example.com/"})
    assert config.secret_key == Secret(key) and key in config.secret_values()
    assert key not in repr(config)
    assert config.base_url == "https://hall.example.com"
    plain = load_config({"STUDYHALL_HTTP_PORT": "9090"})
    assert plain.secret_key is None and plain.base_url == "http://127.0.0.1:9090"


def test_a_short_secret_key_or_a_bad_public_url_is_refused_without_the_value() -> None:
    with pytest.raises(ConfigError) as short:
        load_config({"STUDYHALL_SECRET_KEY": "tooshort-secret"})
    assert "STUDYHALL_SECRET_KEY" in str(short.value) and "tooshort-secret" not in str(short.value)
    with pytest.raises(ConfigError) as url:
        load_config({"STUDYHALL_PUBLIC_URL": "hall.example.com"})
    assert "STUDYHALL_PUBLIC_URL" in str(url.value) and "http(s) URL" in str(url.value)


# -- logs -------------------------------------------------------------------------------------


def test_log_settings_default_to_text_lines_in_a_rotated_file() -> None:
    config = load_config(env={})
    assert (config.log_format, config.log_max_bytes, config.log_backups) == ("text", 10 * 1024 * 1024, 5)


def test_log_settings_come_from_the_log_table_and_the_environment(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[log]\nformat = "JSON"\nmax_bytes = 2048\nbackups = 2\n')
    config = load_config(env={}, config_file=path)
    assert (config.log_format, config.log_max_bytes, config.log_backups) == ("json", 2048, 2)
    config = load_config(env={"STUDYHALL_LOG_FORMAT": "text", "STUDYHALL_LOG_BACKUPS": "0"}, config_file=path)
    assert (config.log_format, config.log_max_bytes, config.log_backups) == ("text", 2048, 0)


def test_every_setting_is_declared_once_with_help() -> None:
    specs = all_settings()
    assert len({(s.section, s.key) for s in specs}) == len(specs)
    assert all(spec.help for spec in specs)
    log_keys = {"STUDYHALL_LOG_FORMAT", "STUDYHALL_LOG_MAX_BYTES", "STUDYHALL_LOG_BACKUPS"}
    assert log_keys <= {s.env for s in specs}


DISCORD = {"STUDYHALL_ADAPTERS": "discord", "DISCORD_TOKEN": "dt-secret-1"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (None, None)),
        ({"DISCORD_SHARD_COUNT": "4"}, (4, None)),
        ({"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "0, 2"}, (4, (0, 2))),
        ({"DISCORD_SHARD_COUNT": "1", "DISCORD_SHARD_IDS": "0"}, (1, (0,))),
    ],
)
def test_discord_shards_are_read(env: dict[str, str], expected: tuple[object, object]) -> None:
    config = load_config(env={**DISCORD, **env})
    assert discord_shards(config.adapter_settings["discord"]) == expected


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"DISCORD_SHARD_COUNT": "0"},
            "DISCORD_SHARD_COUNT (or [discord] shard_count in studyhall.toml) is '0'",
        ),
        ({"DISCORD_SHARD_COUNT": "two"}, "expected a whole number, at least 1"),
        (
            {"DISCORD_SHARD_IDS": "0"},
            "DISCORD_SHARD_IDS (or [discord] shard_ids in studyhall.toml) is set but",
        ),
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0,2"}, "expected shard numbers from 0 to 1"),
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "-1"}, "expected shard numbers from 0 to 1"),
        ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0,,1"}, "expected shard numbers from 0 to 1"),
        ({"DISCORD_SHARD_COUNT": "3", "DISCORD_SHARD_IDS": "1,1"}, "a shard is listed twice"),
    ],
)
def test_bad_discord_shards_are_one_clear_line(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={**DISCORD, **env})
    assert says in str(error.value)
    assert "\n" not in str(error.value) and "dt-secret-1" not in str(error.value)
