"""bot/demo.py: the demo community is seeded once, through the real App."""

from __future__ import annotations

from bot.app import App
from bot.demo import CROWD, DEMO_MEMBERS, GUIDE, LOUNGE_CHAT, SHOP_SETUP, seed_demo
from core.members.models import Role


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
    # Li's /buy and /review, the /bind, Omar's /start through Ana's link and /buy, and two
    # questions (one answered and accepted), and the crowd's messages and purchases: all logged
    crowd = sum(len(days) + int(buys) for _, _, days, buys in CROWD)
    assert await app.services.activity.count(community.id) == (
        len(DEMO_MEMBERS) + len(LOUNGE_CHAT) + 8 + 1 + len(SHOP_SETUP) + 3 + 2 + 4 + crowd
    )
    li = (await members.find_by_name(community.id, "Li"))[0]
    # Li: a lounge message (1), four check-ins with a growing streak (5+6+7+8), Sam's award (30),
    # and 19 points for buying py101, less the bounty of 10 on her question
    assert (await app.services.ledger.balance(community.id, li.id)).balance == 1 + 26 + 30 + 19 - 10
    assert [c.code for c in await app.services.catalog.courses(community)] == ["py101", "ml201"]
    py101 = await app.services.catalog.course(community, "py101")
    assert await app.services.catalog.enrollment(li, py101) is not None
    assert (await app.services.reviews.rating(py101)).count == 1
    assert [i.code for i in await app.services.mall.items(community)] == ["sticker", "ml"]
    assert [(b.chat.title, b.kind, b.target) for b in await app.services.paid_chats.bindings(community)] == [
        ("vip", "plan", "monthly")
    ]
    assert await app.services.ledger.totals(community.id) == (0, 0)
    # Ana invited Omar, who bought ml201 ($29.99): her 10% waits out the hold.
    ana = (await members.find_by_name(community.id, "Ana"))[0]
    [balance] = await app.services.commissions.balances(ana)
    assert (balance.currency, balance.pending, balance.available) == ("USD", 299, 0)


def test_guide_is_a_title_and_six_lines() -> None:
    assert len(GUIDE) == 7
