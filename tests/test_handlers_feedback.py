"""bot/handlers/feedback.py end to end: /feedback and /反馈 through the console (staff told at
once; list, answer, close; the 2,000-character limit), the same in a real `studyhall console`
subprocess, the NPS survey from /push nps to a button press, a typed /nps 11 refused and the
score in /stats; and through the WeChat adapter's real callback server: the answer reaches the
follower by customer-service message within the 48-hour window, and is recorded as skipped after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from core.clock import ManualClock
from core.members.models import Role
from tests.conftest import ConsoleDriver, snapshot
from tests.test_cli import studyhall
from tests.test_wechat_adapter import ANA, Server, _member, _server

STAFF_NOTE = "New feedback #1 from Ana: /feedback answer 1 TEXT replies to them."
USAGE = "bot> /feedback list [open|answered|closed] · /feedback answer ID TEXT · /feedback close ID"


async def test_feedback_is_sent_listed_answered_and_closed(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Sam moderator", ":as Ana")
    assert await console("/feedback The videos are too quiet") == [
        "bot> Thank you! Your feedback #1 is with the team; their answer will come here.",
        f"bot→Mei> {STAFF_NOTE}",
        "bot→Mei> The videos are too quiet",
        f"bot→Sam> {STAFF_NOTE}",
        "bot→Sam> The videos are too quiet",
    ]
    assert await console(":as Sam", "/feedback") == [
        "(you are Sam, moderator, in dm)",
        "bot> Feedback: 1 open · 0 answered · 0 closed",
        "bot> #1 Ana · 2026-01-05 09:00 · console: The videos are too quiet",
        USAGE,
    ]
    assert await console("/feedback answer #1 Thanks, louder from lesson 3 on") == [
        "bot> Answered feedback #1; the answer is on its way to them.",
        "bot→Ana> An answer to your feedback #1 in testhall:",
        "bot→Ana> Thanks, louder from lesson 3 on",
    ]
    assert await console("/feedback list open") == [
        "bot> Feedback: 0 open · 1 answered · 0 closed",
        "bot> No open feedback.",
        USAGE,
    ]
    assert await console(":as Mei", "/feedback close 1", "/feedback close 1", "/feedback list closed") == [
        "(you are Mei, creator, in dm)",
        "bot> Feedback #1 is closed.",
        "bot> Feedback #1 is closed already.",
        "bot> Feedback: 0 open · 0 answered · 1 closed",
        "bot> #1 Ana · 2026-01-05 09:00 · console: The videos are too quiet",
        USAGE,
    ]


async def test_bad_feedback_is_explained_and_changes_nothing(app: App, console: ConsoleDriver) -> None:
    await console(
        ":as Mei creator", ":as Ana", "/whoami", ":as Mei", ":in lounge", "/whoami", ":dm", "/whoami"
    )
    before = await snapshot(app.db)
    for who, line, reply in [
        ("Ana", "/feedback " + "x" * 2001, ["bot> Feedback is at most 2000 characters; yours has 2001."]),
        (
            "Ana",
            "/feedback",
            ["bot> Write your feedback after /feedback, like /feedback the videos are too quiet."],
        ),
        ("Ana", "/nps 11", ["bot> An answer is a whole number from 0 to 10."]),
        ("Ana", "/nps -1", ["bot> An answer is a whole number from 0 to 10."]),
        ("Ana", "/nps 7", ["bot> There is no survey for you to answer."]),
        ("Mei", "/feedback answer 9 hello", ["bot> There is no feedback #9."]),
        ("Mei", "/feedback answer x hello", ["bot> Name a ticket by its number, like 3 or #3."]),
        ("Mei", "/feedback list pending", ["bot> Usage: " + USAGE.removeprefix("bot> ")]),
        ("Mei", "/push nps", ["bot> Usage: /push nps SEGMENT [QUESTION…] [at TIME]"]),
        ("Mei", "/push nps nosuch", ["bot> There is no segment nosuch. /segments lists them."]),
    ]:
        assert (await console(f":as {who}", line))[1:] == reply, line
    assert await console(":in lounge", "/feedback list") == [
        "(in group chat lounge)",
        "bot> Feedback is listed in a private chat with the bot.",
    ]
    assert await snapshot(app.db) == before


async def test_a_learners_feedback_in_chinese_with_the_alias(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana")
    out = await console("/反馈 list of lessons is hard to find")  # "list" is text for a learner
    assert out[0] == "bot> Thank you! Your feedback #1 is with the team; their answer will come here."
    assert out[2] == "bot→Mei> list of lessons is hard to find"


async def test_an_nps_survey_from_push_to_the_score_in_stats(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Ana", ":as Ben", ":as Cai", ":as Mei")
    out = await console("/push nps all")
    assert out == [
        "bot> Push #1 to all: a preview",
        "bot> Recipients: 3 (console 3)",
        "bot> Sends: as soon as it is confirmed (outside quiet hours).",
        "bot> Survey: How likely are you to recommend testhall to a friend? Tap a number from 0 (not at all)"
        " to 10 (very likely), or send /nps SCORE.",
        "bot> Buttons: 0 to 10; each member's first answer counts.",
        "bot> Nothing is sent until you confirm.",
        "bot> [1] Confirm",
        "bot> [2] Cancel",
    ]
    await console("1")
    sent = await console(":as Ana", ":clock +1m")  # Ana is at the console when it comes
    assert sent[1].startswith("bot> How likely are you to recommend testhall")
    assert sent[2:13] == [f"bot> [{n + 1}] {n}" for n in range(11)]
    assert sent[13].startswith("bot→Ben> How likely")
    # Ana presses 10 (the 11th button), then types 3; Ben types 6; Cai types 8 naming the survey.
    assert await console("11", "/nps 3") == [
        "bot> Thank you! Your answer 10 is recorded.",
        "bot> You answered this survey already (with 10); thank you!",
    ]
    assert (await console(":as Ben", "/nps 6"))[1] == "bot> Thank you! Your answer 6 is recorded."
    assert (await console(":as Cai", "/nps 8 #1"))[1] == "bot> Thank you! Your answer 8 is recorded."
    stats = await console(":as Mei", ":clock +1d", "/stats")
    assert (
        "bot> NPS (survey #1): +0 (95% CI -92 to +92) from 3 answers: 1 promoters, 1 passives,"
        " 1 detractors." in stats
    )
    assert (await console("/push list"))[1] == "bot> #1 all · done · 2026-01-05 09:00"


async def test_stats_without_a_survey_says_how_to_send_one(console: ConsoleDriver) -> None:
    out = await console(":as Mei creator", ":clock +1d", "/stats")
    assert "bot> NPS: no survey yet; /push nps SEGMENT sends one." in out


FEEDBACK_SCRIPT = """\
:as Mei creator
:as Ana
/feedback Please add subtitles
:as Mei
/feedback list
/feedback answer 1 Subtitles come next week
:as Ana
/feedback x{long}
:quit
"""


@pytest.mark.slow
def test_feedback_in_a_console_subprocess(db_url: str, tmp_path: Path) -> None:
    script = FEEDBACK_SCRIPT.format(long="x" * 2000)
    result = studyhall(["console", "--db", db_url, "--community", "fbhall"], tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        "bot> Thank you! Your feedback #1 is with the team; their answer will come here.",
        "bot→Mei> New feedback #1 from Ana: /feedback answer 1 TEXT replies to them.",
        "bot> #1 Ana · " in "\n".join(lines) and "bot> Feedback: 1 open · 0 answered · 0 closed",
        "bot> Answered feedback #1; the answer is on its way to them.",
        "bot→Ana> An answer to your feedback #1 in fbhall:",
        "bot→Ana> Subtitles come next week",
        "bot> Feedback is at most 2000 characters; yours has 2001.",
    ):
        assert expected in lines, expected
    assert "Traceback" not in result.stdout + result.stderr


# -- through WeChat's callback server ---------------------------------------------------------

MEI = "oMeiOpenid000000000000000009"


async def texted(server: Server, openid: str, ending: str) -> None:
    """Wait until ``openid`` got a customer-service message ending with ``ending`` (the adapter
    sends them after its passive reply)."""
    for _ in range(100):
        texts = server.fake.texts(openid)
        if texts and texts[-1].endswith(ending):
            return
        await asyncio.sleep(0.03)
    raise AssertionError(server.fake.texts(openid))


@pytest.fixture
async def plain(app: App) -> AsyncIterator[Server]:
    async for running in _server(app, False):
        yield running


async def test_a_wechat_followers_feedback_is_answered_within_the_window_and_skipped_after(
    plain: Server, app: App, clock: ManualClock
) -> None:
    await plain.say(MEI, "/whoami")
    community = await app.community()
    mei = await app.services.members.get_member(await _member(app, MEI))
    mei = await app.services.members.assign_role(community, mei, Role.CREATOR, via="test")
    reply = await plain.say(ANA, "/反馈 视频声音太小")
    assert "#1" in reply
    await texted(plain, MEI, "视频声音太小")  # the creator told at once
    await plain.say(MEI, "/feedback answer 1 下周的视频会更响")
    await texted(plain, ANA, "下周的视频会更响")  # a customer-service message
    ana = await _member(app, ANA)
    [ticket] = await app.services.feedback.tickets(community, mei, "answered")
    assert (ticket.member_id, ticket.platform) == (ana, "wechat")

    await plain.say(ANA, "/feedback 还有字幕吗？")
    clock.advance(timedelta(hours=49))  # Ana's 48 hours pass
    sent = len(plain.fake.texts(ANA))
    await plain.say(MEI, "/feedback answer 2 有的")
    for _ in range(100):  # the adapter sends after its passive reply
        skipped = await app.services.delivery.latest_skipped("wechat")
        if skipped:
            break
        await asyncio.sleep(0.03)
    assert len(plain.fake.texts(ANA)) == sent  # nothing went outside the window
    assert {(s.reason, s.member_id) for s in skipped} == {("window_closed", ana)}
    assert any("有的" in s.preview for s in skipped)
