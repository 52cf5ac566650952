"""bot/wechat_one_off.py: a one-off command (doctor, the menu) takes the access token the
running service keeps in the database instead of fetching one, which would invalidate theirs;
without a usable database it fetches its own. Against the local fake of the WeChat API
(tests/wechat_peer.py), which refuses any token but the newest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Config, Secret
from bot.wechat_one_off import missing_sqlite_file, one_off_wechat_api
from core.delivery.access_tokens import StoredToken, read_access_token, save_access_token
from core.storage.database import Database
from tests.wechat_peer import APP_ID, APP_SECRET, TOKEN, FakeWeChat, running_wechat


def _wechat(config: Config, base: str, **changes: object) -> Config:
    settings = {"app_id": APP_ID, "app_secret": Secret(APP_SECRET), "token": Secret(TOKEN), "api_base": base}
    return replace(
        config,
        adapters=(*config.adapters, "wechat"),
        adapter_settings={**config.adapter_settings, "wechat": settings},
        **changes,
    )


async def _stored(url: str) -> StoredToken | None:
    db = Database(url)
    try:
        async with db.read() as conn:
            return await read_access_token(conn, APP_ID)
    finally:
        await db.dispose()


async def test_the_service_token_in_the_database_is_used_not_replaced(config: Config) -> None:
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        fake.tokens_issued = 1  # the service fetched token-1 and keeps it in the database
        db = Database(config.database_url)
        try:
            async with db.write() as conn:
                kept = StoredToken("token-1", datetime.now(UTC) + timedelta(hours=1))
                await save_access_token(conn, APP_ID, kept, now=datetime.now(UTC))
        finally:
            await db.dispose()
        async with one_off_wechat_api(_wechat(config, base)) as api:
            await api.create_menu({"button": []})  # WeChat accepts the service's token
    assert fake.tokens_issued == 1  # no new token: the service's still works


async def test_a_check_of_the_credentials_leaves_its_new_token_for_the_service(config: Config) -> None:
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        async with one_off_wechat_api(_wechat(config, base)) as api:
            await api.check_credentials()  # the service's start: token-1, kept in the database
        async with one_off_wechat_api(_wechat(config, base)) as api:
            await api.verify_credentials()  # the doctor: WeChat checks the secret by issuing token-2
        wrong = _wechat(config, base)
        wrong.adapter_settings["wechat"]["app_secret"] = Secret("not-the-secret")
        async with one_off_wechat_api(wrong) as api:
            try:
                await api.verify_credentials()
            except Exception as error:
                refused = error
    stored = await _stored(config.database_url)
    assert fake.tokens_issued == 2
    assert (
        stored is not None and stored.token == "token-2"
    )  # the service moves to it; the refusal changed nothing
    assert "40125" in str(refused)


async def test_a_stale_token_is_refreshed_and_written_back_for_the_service(config: Config) -> None:
    fake = FakeWeChat()
    async with running_wechat(fake) as base, one_off_wechat_api(_wechat(config, base)) as api:
        await api.check_credentials()
    stored = await _stored(config.database_url)
    assert fake.tokens_issued == 1
    assert stored is not None and stored.token == "token-1"  # the service reads this one next


async def test_without_a_database_file_the_command_keeps_a_token_of_its_own(
    config: Config, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.db"
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        alone = _wechat(config, base, database_url=f"sqlite+aiosqlite:///{missing}")
        async with one_off_wechat_api(alone) as api:
            await api.check_credentials()
    assert fake.tokens_issued == 1
    assert not missing.exists()  # no empty database made on the way
    assert missing_sqlite_file(f"sqlite+aiosqlite:///{missing}") == str(missing)
    assert missing_sqlite_file("postgresql+asyncpg://localhost/x") is None
