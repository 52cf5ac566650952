"""bot/adapters/console/session.py: the console protocol, in process.

The same protocol driven through a real subprocess is in test_cli.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bot.adapters.console.session import ConsolePushChannel
from bot.app import App
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Role
from core.services import Services
from tests.conftest import START, ConsoleDriver


async def test_help_lists_commands_for_the_role(console: ConsoleDriver) -> None:
    out = await console.text("/help")
    assert "bot> Commands you can use here:" in out
    assert "/whoami" in out
    assert "/role" not in out
    out = await console.text(":as Mei creator", "/help")
    assert "/role — Make a member a learner or a moderator" in out


async def test_as_creates_members_and_sets_sandbox_roles(console: ConsoleDriver) -> None:
    assert await console(":as Mei creator") == ["(you are Mei, creator, in dm)"]
    assert await console(":as Ana") == ["(you are Ana, learner, in dm)"]
    assert await console(":as ana moderator") == ["(you are Ana, moderator, in dm)"]
    assert console.session.prompt == "Ana@dm> "
    out = await console.text(":as Mei learner")
    assert "error: Mei owns this community; their role cannot change." in out
    assert "owner" in await console.text(":who")


async def test_messages_to_others_are_marked_with_their_name(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana", ":as Mei")
    out = await console("/role @Ana moderator because she helps")
    assert out == ["bot> Ana is now a moderator.", "bot→Ana> Mei made you a moderator in testhall."]


async def test_group_and_dm_switching(console: ConsoleDriver) -> None:
    assert await console(":in lounge") == ["(in group chat lounge)"]
    assert console.session.prompt == "guest@lounge> "
    assert await console("/nosuchcommand") == []  # quiet in groups
    assert await console("hello everyone") == []
    await console(":dm")
    assert console.session.prompt == "guest@dm> "
    assert "Unknown command /nosuchcommand" in await console.text("/nosuchcommand")


async def test_buttons_are_numbered_and_pressed_by_number(console: ConsoleDriver) -> None:
    out = await console("/lang")
    assert out[-2:] == ["bot> [1] English", "bot> [2] 中文"]
    assert await console("2") == ["bot> 语言已切换为中文。"]
    assert "error: there is no option [5]" in await console.text("5")
    assert await console("1") == ["bot> Language set to English."]


async def test_numbers_without_buttons_are_plain_messages(console: ConsoleDriver) -> None:
    assert await console("3") == []


async def test_bad_meta_lines_print_an_error_and_go_on(console: ConsoleDriver) -> None:
    out = await console(":frobnicate", ":as", ":as bad/name", ":as Ana overlord", ":in", ":clock yesterday")
    assert [line.split(":")[0] for line in out] == ["error"] * 6
    assert "Commands you can use here:" in await console.text("/help")


async def test_clock_moves_forward_and_runs_due_jobs(app: App, clock: ManualClock) -> None:
    ran: list[str] = []

    async def tick(services: Services, now: object) -> None:
        ran.append(str(now))

    app.jobs.jobs.clear()  # only this test's job, so "none due" means it
    app.jobs.job("tick", IntervalTrigger(hours=1, start_date=START))(tick)
    from bot.adapters.console.session import ConsoleSession

    output: list[str] = []
    session = await ConsoleSession.open(app, clock, community="testhall", locale="en", write=output.append)
    await session.handle_line(":clock +30m")
    assert ran == [] and "jobs run: none due" in output[-1]
    await session.handle_line(":clock +2h")
    assert len(ran) == 1 and "jobs run: tick" in output[-1]
    assert clock.now() == START + timedelta(hours=2, minutes=30)
    await session.handle_line(":clock 2026-01-06T09:00")
    assert clock.now() == START + timedelta(days=1)  # the configured zone is UTC
    assert len(ran) == 2
    await session.handle_line(":clock 2025-01-01T00:00")
    assert output[-1].startswith("error: cannot move the clock")


async def test_pay_without_a_pending_payment(console: ConsoleDriver) -> None:
    assert await console(":pay") == ["(no sandbox payment is pending for you)"]


async def test_quit_finishes_the_session(console: ConsoleDriver) -> None:
    await console(":quit")
    assert console.session.finished


# -- a piped console killed mid-delivery -----------------------------------------------------

RECIPIENTS = 1500


async def _a_push_to_everyone(db_url: str, tmp_path: Path) -> None:
    """Community killhall: Mei (creator) and RECIPIENTS learners with console accounts, and a
    push to all of them confirmed for 30 minutes from now (no quiet hours)."""
    from bot.config import Config
    from core.clock import SystemClock

    app = await App.open(
        Config(database_url=db_url, data_dir=tmp_path, community="killhall"), clock=SystemClock()
    )
    try:
        community = await app.community()
        members = app.services.members
        mei = await members.ensure_member(community, UserRef("console", "mei", "Mei"))
        mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
        for hour in ("push.quiet_start", "push.quiet_end"):
            await app.services.settings.set(community.id, hour, "0", actor=mei)
        for first in range(0, RECIPIENTS, 100):  # concurrently: the writer commits them together
            await asyncio.gather(
                *(
                    members.ensure_member(community, UserRef("console", f"m{n:04}", f"M{n:04}"))
                    for n in range(first, min(first + 100, RECIPIENTS))
                )
            )
        pushes = app.services.pushes
        # A console channel, so that confirming addresses the console accounts (it sends nothing).
        pushes.channels["console"] = ConsolePushChannel(None)  # type: ignore[arg-type]
        preview = await pushes.draft(
            community, mei, "all", "Class at 8", send_at=app.clock.now() + timedelta(minutes=30)
        )
        await pushes.confirm(community, mei, preview.campaign.id)
    finally:
        await app.close()


async def _sent_accounts(db_url: str) -> set[str]:
    from sqlalchemy import select

    from core.pushes.tables import push_outbox
    from core.storage.database import Database

    db = Database(db_url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(select(push_outbox.c.account).where(push_outbox.c.status == "sent"))
            return {row.account for row in rows}
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_every_push_recorded_as_sent_was_written_out_before_a_kill(db_url: str, tmp_path: Path) -> None:
    """A console on a pipe, SIGKILLed while it delivers a push: every push the outbox records
    as sent is in what was read from the pipe (the console keeps the platforms' promise)."""
    await _a_push_to_everyone(db_url, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYHALL_")}
    env.update(STUDYHALL_DATA_DIR=str(tmp_path / "data"), PYTHONIOENCODING="utf-8")
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "bot.cli", "console", "--db", db_url, "--community", "killhall"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).parent.parent,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    read = asyncio.create_task(process.stdout.read())  # all of it, to the end of the pipe
    try:
        process.stdin.write(b":clock +1h\n")
        await process.stdin.drain()
        deadline = time.monotonic() + 120
        while len(await _sent_accounts(db_url)) < 100:
            assert time.monotonic() < deadline and process.returncode is None, "no push was sent"
            await asyncio.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 30)
    output = (await asyncio.wait_for(read, 30)).decode()
    sent = await _sent_accounts(db_url)
    assert 100 <= len(sent) < RECIPIENTS  # killed mid-delivery
    written = {
        line.split("> ", 1)[0].removeprefix("bot→").lower()
        for line in output.splitlines()
        if line.startswith("bot→M") and line.endswith("> Class at 8")
    }
    assert sent - written == set(), (
        f"{len(sent - written)} of {len(sent)} pushes recorded as sent were never written"
    )
