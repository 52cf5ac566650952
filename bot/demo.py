"""The demo community: a few members in a few roles, seeded through the real App.

It grows with each feature so `make demo` always shows what studyhall can do.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.app import App
from bot.config import Config, Secret
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.members.models import Member, Role

PLATFORM = "console"
DEMO_COMMUNITY = "demo"
GUIDE = (
    "Try this (you are Ana, a learner; type :help for the console's own commands):",
    "  /help  /points  /checkin  /top  :in lounge + chat   your points; group messages earn more",
    "  /courses  /buy py101 SPRING15  :pay  /learn py101     buy with a coupon (sandbox), then learn",
    "  /mall  /redeem sticker   /plans  /subscribe monthly  :in vip   points; a membership (premium)",
    "  /ref  /commissions  :clock +15d                       Omar came through your link and bought",
    "  /questions  /q 2  /answer 2 …  /search 分组           Q&A: answer Omar's question for its bounty",
    "  :as Mei  then  /stats  /segments  /retention  /lang zh  the creator's view; 中文",
)


DASHBOARD_LINE = "Dashboard: type :as Mei, then /dashboard, and open the link it sends (http on {where})"
COURSE_PAGE_LINE = "Course page, as search engines and shared links open it: {where}/c/py101"
SECRET_KEY_FILE = "secret_key"


def with_secret_key(config: Config) -> Config:
    """The demo serves the dashboard: without a configured secret key, one generated into the
    data folder (readable by its owner only) and kept for the next run."""
    if config.secret_key is not None:
        return config
    path = config.data_dir / SECRET_KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        key = ""
    if len(key) < 32:
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key + "\n")
    return replace(config, secret_key=Secret(key))


@dataclass(frozen=True)
class DemoMember:
    name: str
    role: Role
    locale: str | None


DEMO_MEMBERS = (
    DemoMember("Mei", Role.CREATOR, "zh_CN"),
    DemoMember("Sam", Role.MODERATOR, "en"),
    DemoMember("Ana", Role.LEARNER, "en"),
    DemoMember("Li", Role.LEARNER, "zh_CN"),
    DemoMember("Omar", Role.LEARNER, None),
)

LOUNGE_CHAT = [
    ("Mei", "欢迎来到 Demo Academy！Welcome, everyone."),
    ("Ana", "Hi all, I just started the Python course."),
    ("Li", "大家好，我在学数据分析。"),
    ("Sam", "Ask here if anything is unclear, I moderate this lounge."),
    ("Omar", "Glad to be here!"),
]


async def seed_demo(app: App, community_name: str = DEMO_COMMUNITY) -> bool:
    """Create the demo community unless it exists. Returns True when it seeded."""
    members = app.services.members
    if await members.get_community(community_name) is not None:
        return False
    community = await app.community(community_name)
    start = app.clock.now() - timedelta(days=14)
    for index, person in enumerate(DEMO_MEMBERS):
        user = UserRef(PLATFORM, person.name.lower(), person.name)
        member = await members.ensure_member(community, user)
        if person.role is not Role.LEARNER:
            member = await members.assign_role(community, member, person.role, via="demo seed")
        if person.locale:
            await members.set_locale(member, person.locale)
        dm = ChatRef(PLATFORM, f"dm:{person.name.lower()}", ChatKind.PRIVATE, person.name)
        await app.handle(_event(community_name, dm, user, "/start", start + timedelta(hours=index)))
    lounge = ChatRef(PLATFORM, "group:lounge", ChatKind.GROUP, "lounge")
    for index, (name, text) in enumerate(LOUNGE_CHAT):
        user = UserRef(PLATFORM, name.lower(), name)
        await app.handle(
            _event(community_name, lounge, user, text, start + timedelta(days=1, minutes=index * 7))
        )
    # A few days of check-ins and a moderator's award, so /points, /history and /top have data.
    for day in range(2, 6):
        for name in ("Ana", "Li"):
            dm = ChatRef(PLATFORM, f"dm:{name.lower()}", ChatKind.PRIVATE, name)
            user = UserRef(PLATFORM, name.lower(), name)
            await app.handle(
                _event(community_name, dm, user, "/checkin", start + timedelta(days=day, hours=9))
            )
    sam, sam_dm = UserRef(PLATFORM, "sam", "Sam"), ChatRef(PLATFORM, "dm:sam", ChatKind.PRIVATE, "Sam")
    award = "/award @Li 30 clear answer about pandas groupby"
    await app.handle(_event(community_name, sam_dm, sam, award, start + timedelta(days=6)))
    await _seed_shop(app, community_name, start + timedelta(days=7))
    await _seed_questions(app, community_name, start + timedelta(days=8))
    await _seed_feedback(app, community_name)
    await _seed_crowd(app, community_name)
    await _seed_channel(app, community_name)
    return True


async def _seed_channel(app: App, community_name: str) -> None:
    """A private channel of py101's lessons, bound from Mei's private chat (as on Telegram, where
    the bot learns of a channel when it is made an administrator there); py101's owners are in."""
    community = await app.community(community_name)
    when = app.clock.now() - timedelta(hours=2)
    news = ChatRef(PLATFORM, "channel:py101", ChatKind.CHANNEL, "py101 channel")
    channel = await app.services.members.ensure_chat(community, news)
    mei, mei_dm = UserRef(PLATFORM, "mei", "Mei"), ChatRef(PLATFORM, "dm:mei", ChatKind.PRIVATE, "Mei")
    await app.handle(_event(community_name, mei_dm, mei, f"/bind course py101 #{channel.id}", when))
    paid_chats = app.services.paid_chats
    for action in await paid_chats.plan(community):  # they joined before the job's first run
        if action.chat.id == channel.id:
            identities = await app.services.members.identities_of(action.member.id)
            account = next(i.external_id for i in identities if i.platform == PLATFORM)
            await paid_chats.joined(community, action.member, action.chat, account)
    app.services.notices.take()


SHOP_SETUP = (
    "/course add py101 19.99 USD Python for data analysis",
    "/course edit py101 description Pandas from zero to your first report, one lesson a day.",
    "/course edit py101 completion 20",
    "/lesson add py101 Setup | Install Python 3.12 and pandas: https://pandas.pydata.org/getting_started.html",
    "/lesson add py101 day=1 DataFrames | Load a CSV with pd.read_csv and look at df.head().",
    "/lesson add py101 day=2 Group and summarise | df.groupby('city').sales.sum() — then plot it.",
    # An edit keeps the lesson's first version (/lesson history py101 3 lists both).
    "/lesson edit py101 3 Group and summarise | df.groupby('city').sales.sum(), then df.plot.bar().",
    "/course add ml201 29.99 USD Machine learning basics",
    "/lesson add ml201 Your first model | Fit a LinearRegression with scikit-learn.",
    "/bundle add datapath 39.99 USD py101,ml201 Data path",
    "/coupon add spring15 15% uses=100",
    "/mall add sticker 20 reward Studyhall sticker pack stock=50 | Mailed within a week; DM Mei your address",
    "/mall add ml 300 course ml201 per=1",
    "/plan add monthly 9.99 USD month trial=7 grace=3 tier=premium Demo Academy membership",
    "/commission set all 10% 5%",
    # Last month's ads, for CAC; and a push waiting for Mei's review (nothing is sent unconfirmed).
    "/spend add 120 USD ads",
    # The ads carry a tagged entry link, so /channels credits their buyers and shows CAC and ROI.
    "/channel add ads Xiaohongshu ads",
    # Lessons by moderators wait for Mei, the owner: Sam's draft below is in /drafts.
    "/rules set content.review on",
    "/push all New this week: lesson 3 of py101, Group and summarise. Try it with your own CSV!",
    # WeChat followers past the 48-hour window still hear of payments and renewals (/wechat).
    "/wechat template payment_received Pay_demo_1 character_string1=order thing2=title amount3=amount"
    " time4=date",
    "/wechat template renews_soon Renew_demo_1 thing1=title time2=date",
    "/wechat subscribe Subscribe_demo_1",
    # Points pay up to 30% of a price, 100 points a dollar: /buy ml201 usepoints.
    "/rules set points.offset_rate 100",
    "/rules set points.offset_max_percent 30",
)

SAM_DRAFT = "/lesson add ml201 Checking a model | Keep a test set apart: train_test_split, then score on it."


async def _seed_shop(app: App, community_name: str, when: datetime) -> None:
    """The creator's catalog, a coupon, a mall, ad spend and a push draft; a lesson draft by Sam
    waiting for Mei's review; Li has bought py101 and reviewed it."""
    mei, mei_dm = UserRef(PLATFORM, "mei", "Mei"), ChatRef(PLATFORM, "dm:mei", ChatKind.PRIVATE, "Mei")
    for index, command in enumerate(SHOP_SETUP):
        await app.handle(_event(community_name, mei_dm, mei, command, when + timedelta(minutes=index)))
    sam, sam_dm = UserRef(PLATFORM, "sam", "Sam"), ChatRef(PLATFORM, "dm:sam", ChatKind.PRIVATE, "Sam")
    await app.handle(_event(community_name, sam_dm, sam, SAM_DRAFT, when + timedelta(minutes=50)))
    li, li_dm = UserRef(PLATFORM, "li", "Li"), ChatRef(PLATFORM, "dm:li", ChatKind.PRIVATE, "Li")
    await app.handle(_event(community_name, li_dm, li, "/buy py101", when + timedelta(hours=1)))
    community = await app.community(community_name)
    buyer = await app.services.members.ensure_member(community, li)
    await app.pay_sandbox(community, buyer)
    review = "/review py101 5 讲得很清楚，练习很实用。"
    await app.handle(_event(community_name, li_dm, li, review, when + timedelta(hours=2)))
    # A members-only group for the membership plan.
    vip = ChatRef(PLATFORM, "group:vip", ChatKind.GROUP, "vip")
    await app.handle(_event(community_name, vip, mei, "/bind plan monthly", when + timedelta(hours=3)))
    # Omar came through Ana's invitation on the ads' channel and bought ml201: Ana has a
    # commission on hold, and the ads a buyer.
    ana = await app.services.members.ensure_member(community, UserRef(PLATFORM, "ana", "Ana"))
    link = f"/start src_ads-ref_{await app.services.referrals.code_of(ana)}"
    omar, omar_dm = UserRef(PLATFORM, "omar", "Omar"), ChatRef(PLATFORM, "dm:omar", ChatKind.PRIVATE, "Omar")
    await app.handle(_event(community_name, omar_dm, omar, link, when + timedelta(hours=4)))
    await app.handle(_event(community_name, omar_dm, omar, "/buy ml201", when + timedelta(hours=5)))
    await app.pay_sandbox(community, await app.services.members.ensure_member(community, omar))
    app.services.notices.take()  # the seed's notes to Ana are not news when she opens the demo


QUESTIONS = (
    # (asker, question, answerer, answer): answered and accepted when an answerer is given
    (
        "li",
        "pandas 怎么按某一列分组求平均值？ bounty 10",
        "sam",
        "df.groupby('city')['sales'].mean() 就可以。",
    ),
    ("omar", "How do I read an Excel file with pandas? bounty 5", None, None),
)


async def _seed_questions(app: App, community_name: str, when: datetime) -> None:
    """Li's question, answered by Sam and accepted; Omar's, open with a bounty for Ana."""
    lounge = ChatRef(PLATFORM, "group:lounge", ChatKind.GROUP, "lounge")
    for number, (asker, question, answerer, answer) in enumerate(QUESTIONS, start=1):
        at = when + timedelta(hours=number)
        asking = UserRef(PLATFORM, asker, asker.title())
        await app.handle(_event(community_name, lounge, asking, f"/ask {question}", at))
        if answerer is None:
            continue
        answering = UserRef(PLATFORM, answerer, answerer.title())
        await app.handle(_event(community_name, lounge, answering, f"/answer {number} {answer}", at))
        await app.handle(
            _event(community_name, lounge, asking, f"/accept A{number}", at + timedelta(minutes=5))
        )
    app.services.notices.take()


async def _seed_feedback(app: App, community_name: str) -> None:
    """Li's feedback, answered by Sam; Omar's, open in the inbox (/feedback, the dashboard).
    Through the service, not typed: no activity, so the demo's engagement figures stay put."""
    community = await app.community(community_name)
    members, feedback = app.services.members, app.services.feedback

    async def member(handle: str) -> Member:
        return await members.ensure_member(community, UserRef(PLATFORM, handle, handle.title()))

    li = await feedback.submit(
        community, await member("li"), "希望每节课后有练习答案。", platform=PLATFORM, key="demo:feedback:li"
    )
    await feedback.answer(community, await member("sam"), li.id, "好建议！答案会放在每节课的最后。")
    text = "The ml201 videos are hard to hear on a phone."
    await feedback.submit(community, await member("omar"), text, platform=PLATFORM, key="demo:feedback:omar")
    app.services.notices.take()


CROWD = (
    # name, weeks since joining, days active (ago), buys py101
    *(
        (name, 10 - i, range(1 + i % 3, 40, 3), i % 2 == 0)
        for i, name in enumerate(("Chen", "Priya", "Tomás", "Yuki", "Amara", "Wei", "Lena", "Kofi"))
    ),
    *(
        (name, 8 - i % 6, (15 + i, 22 + i), False)
        for i, name in enumerate(
            ("Sofia", "Hiro", "Zara", "Mateo", "Ines", "Ravi", "Mina", "Jonas", "Lucía", "Arjun")
        )
    ),
    *(
        (name, 12, (45 + i, 52 + i, 60), i == 0)
        for i, name in enumerate(("Olga", "Femi", "Noor", "Bao", "Elif", "Sam Lee"))
    ),
)

ALSO_ML201 = ("Chen", "Amara")  # regulars who went on to the next course


async def _seed_crowd(app: App, community_name: str) -> None:
    """Two dozen more learners who joined over three months — regulars, occasional visitors and
    some who drifted away — so /stats, /retention and /segments have something to show."""
    from sqlalchemy import update

    from core.members.tables import members as members_table

    community = await app.community(community_name)
    now = app.clock.now()
    lounge = ChatRef(PLATFORM, "group:lounge", ChatKind.GROUP, "lounge")
    for name, weeks, days, buys in CROWD:
        user = UserRef(PLATFORM, name.lower().replace(" ", "-"), name)
        member = await app.services.members.ensure_member(community, user)
        async with app.db.write() as conn:  # they joined weeks ago
            await conn.execute(
                update(members_table)
                .where(members_table.c.id == member.id)
                .values(created_at=now - timedelta(weeks=weeks))
            )
        app.services.members.forget_cached(member.id)
        for ago in days:
            text = f"{name}: notes on today's lesson, day {ago}"
            await app.handle(_event(community_name, lounge, user, text, now - timedelta(days=ago)))
        # Some buy py101; two of them go on to ml201 (so /recommend learns that pair).
        bought = [("py101", 2)] * buys + [("ml201", 1)] * (name in ALSO_ML201)
        dm = ChatRef(PLATFORM, f"dm:{user.external_id}", ChatKind.PRIVATE, name)
        for code, ago in bought:
            await app.handle(_event(community_name, dm, user, f"/buy {code}", now - timedelta(days=ago)))
            await app.pay_sandbox(community, member)
    app.services.notices.take()


def _event(community: str, chat: ChatRef, user: UserRef, text: str, when: datetime) -> Event:
    kind = EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE
    key = f"seed-{chat.external_id}-{user.external_id}-{when.isoformat()}"  # a platform id: unique per chat
    return Event(PLATFORM, community, chat, user, kind, when, text=text, message_id=key)
