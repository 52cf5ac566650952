"""bot/demo.py: the demo community is seeded once, through the real App."""

from __future__ import annotations

import asyncio
import socket
import stat
import threading
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.console.repl import _read_line, _serve_dashboard
from bot.app import App
from bot.config import Config, Secret
from bot.demo import (
    ALSO_ML201,
    CROWD,
    DASHBOARD_LINE,
    DEMO_MEMBERS,
    GUIDE,
    LOUNGE_CHAT,
    SECRET_KEY_FILE,
    SHOP_SETUP,
    seed_demo,
    with_secret_key,
)
from bot.http import HttpServer
from bot.web import install_web
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Role
from core.web_sessions.service import DashboardOff
from tests.telegram_peer import free_port


async def test_seed_creates_the_community_once(app: App) -> None:
    assert await seed_demo(app, "demo") is True
    assert await seed_demo(app, "demo") is False
    members = app.services.members
    community = await members.get_community("demo")
    assert community is not None
    owner = await members.get_member(community.owner_member_id or 0)
    assert owner.display_name == "Mei" and owner.role is Role.CREATOR
    assert await members.count_members(community.id) == len(DEMO_MEMBERS) + len(CROWD)
    staff = await members.members_by_role(community.id, [Role.MODERATOR])
    assert [m.display_name for m in staff] == ["Sam"]
    # one /start per member, the lounge conversation, 8 check-ins, an award, the shop set-up,
    # Sam's lesson draft, Li's /buy and /review, the two /binds (the vip group, the py101 channel),
    # Omar's /start through Ana's link and /buy, and two questions (one answered and accepted),
    # and the crowd's messages and purchases: all logged
    crowd = sum(len(days) + int(buys) + int(name in ALSO_ML201) for name, _, days, buys in CROWD)
    assert await app.services.activity.count(community.id) == (
        len(DEMO_MEMBERS) + len(LOUNGE_CHAT) + 8 + 1 + len(SHOP_SETUP) + 1 + 3 + 3 + 4 + crowd
    )
    bound = {
        (b.chat.title, b.chat.kind.value, b.target) for b in await app.services.paid_chats.bindings(community)
    }
    assert bound == {("vip", "group", "monthly"), ("py101 channel", "channel", "py101")}
    li = (await members.find_by_name(community.id, "Li"))[0]
    # Li: a lounge message (1), four check-ins with a growing streak (5+6+7+8), Sam's award (30),
    # and 19 points for buying py101, less the bounty of 10 on her question
    assert (await app.services.ledger.balance(community.id, li.id)).balance == 1 + 26 + 30 + 19 - 10
    assert [c.code for c in await app.services.catalog.courses(community)] == ["py101", "ml201"]
    py101 = await app.services.catalog.course(community, "py101")
    assert await app.services.catalog.enrollment(li, py101) is not None
    assert (await app.services.reviews.rating(py101)).count == 1
    # py101's third lesson was edited (two versions); Sam's ml201 lesson waits for Mei.
    mei = await members.get_member(community.owner_member_id or 0)
    third = await app.services.catalog.lesson(py101, 3)
    assert len(await app.services.catalog.lesson_versions(community, mei, third)) == 2
    [draft] = await app.services.catalog.drafts(community, mei)
    assert draft.title == "Checking a model" and draft.lesson_id is None
    assert [i.code for i in await app.services.mall.items(community)] == ["sticker", "ml"]
    assert await app.services.ledger.totals(community.id) == (0, 0)
    # Ana invited Omar, who bought ml201 ($29.99): her 10% waits out the hold.
    ana = (await members.find_by_name(community.id, "Ana"))[0]
    [balance] = await app.services.commissions.balances(ana)
    assert (balance.currency, balance.pending, balance.available) == ("USD", 299, 0)


def test_guide_is_a_title_and_six_lines() -> None:
    assert len(GUIDE) == 7


def test_the_demo_generates_a_secret_key_once(tmp_path: Path) -> None:
    config = Config(database_url="sqlite+aiosqlite://", data_dir=tmp_path)
    first = with_secret_key(config)
    assert first.secret_key is not None and len(first.secret_key.reveal()) >= 32
    key_file = tmp_path / SECRET_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert with_secret_key(config).secret_key == first.secret_key  # kept for the next run
    configured = replace(config, secret_key=Secret("c" * 40))
    assert with_secret_key(configured) is configured


async def test_the_demo_serves_the_dashboard_while_the_console_waits(
    config: Config, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config = with_secret_key(replace(config, http_port=free_port()))
    app = await App.open(config, clock=clock)
    http = await _serve_dashboard(app)
    assert http is not None
    try:
        base = f"http://127.0.0.1:{config.http_port}"
        assert DASHBOARD_LINE.format(where=base) in capsys.readouterr().out
        community = await app.community()
        mei = await app.services.members.assign_role(
            community,
            await app.services.members.ensure_member(community, UserRef("console", "mei", "Mei")),
            Role.CREATOR,
            via="test",
        )
        link = await app.services.web_sessions.login_link(community, mei)
        assert link.startswith(f"{base}/dashboard/login/")
        answered = threading.Event()
        statuses: list[int] = []

        def typing(prompt: str) -> str:  # the member types once the browser has its page
            assert answered.wait(10)
            return "/help"

        monkeypatch.setattr("builtins.input", typing)
        reading = _read_line("> ")
        async with aiohttp.ClientSession() as browser, browser.get(link, allow_redirects=False) as response:
            statuses.append(response.status)
        answered.set()
        assert await asyncio.wait_for(reading, 10) == "/help"
        assert statuses == [303]
    finally:
        await http.stop()
        await app.close()


async def test_the_demo_course_has_a_public_page_with_its_review(config: Config, clock: ManualClock) -> None:
    config = replace(config, community="demo")
    app = await App.open(config, clock=clock)
    http = HttpServer("127.0.0.1", 0)
    install_web(app, http)
    server = TestServer(http.app)
    try:
        assert await seed_demo(app, "demo") is True
        async with TestClient(server) as client:
            response = await client.get("/c/py101")
            page = await response.text()
            sitemap = await (await client.get("/sitemap.xml")).text()
    finally:
        await app.close()
    assert response.status == 200
    assert "<h1>Python for data analysis</h1>" in page
    assert "Pandas from zero to your first report" in page and "讲得很清楚" in page
    assert "5.0 out of 5, from 1 review" in page
    assert "/c/py101</loc>" in sitemap and "/c/ml201</loc>" in sitemap


async def test_a_taken_port_leaves_the_demo_without_a_dashboard(
    config: Config, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        config = with_secret_key(replace(config, http_port=taken.getsockname()[1]))
        app = await App.open(config, clock=clock)
        try:
            assert await _serve_dashboard(app) is None
            out = capsys.readouterr().out.strip().splitlines()
            assert len(out) == 1 and out[0].startswith("studyhall: no dashboard: cannot listen on 127.0.0.1:")
            community = await app.community()
            mei = await app.services.members.ensure_member(community, UserRef("console", "mei", "Mei"))
            mei = await app.services.members.assign_role(community, mei, Role.CREATOR, via="test")
            with pytest.raises(DashboardOff):
                await app.services.web_sessions.login_link(community, mei)
        finally:
            await app.close()
