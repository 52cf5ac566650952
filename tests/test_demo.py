"""bot/demo.py: the demo community is seeded once, through the real App."""

from __future__ import annotations

from bot.app import App
from bot.demo import DEMO_MEMBERS, GUIDE, LOUNGE_CHAT, seed_demo
from core.members.models import Role


async def test_seed_creates_the_community_once(app: App) -> None:
    assert await seed_demo(app, "demo") is True
    assert await seed_demo(app, "demo") is False
    members = app.services.members
    community = await members.get_community("demo")
    assert community is not None
    owner = await members.get_member(community.owner_member_id or 0)
    assert owner.display_name == "Mei" and owner.role is Role.CREATOR
    assert await members.count_members(community.id) == len(DEMO_MEMBERS)
    staff = await members.members_by_role(community.id, [Role.MODERATOR])
    assert [m.display_name for m in staff] == ["Sam"]
    # one /start per member, the lounge conversation, 8 check-ins and an award: all logged
    assert await app.services.activity.count(community.id) == len(DEMO_MEMBERS) + len(LOUNGE_CHAT) + 8 + 1
    li = (await members.find_by_name(community.id, "Li"))[0]
    # Li: a lounge message (1), four check-ins with a growing streak (5+6+7+8), Sam's award (30)
    assert (await app.services.ledger.balance(community.id, li.id)).balance == 1 + 26 + 30
    assert await app.services.ledger.totals(community.id) == (0, 0)


def test_guide_is_five_lines_after_its_title() -> None:
    assert len(GUIDE) == 5
