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
    # one /start per member plus the lounge conversation, all in the activity log
    assert await app.services.activity.count(community.id) == len(DEMO_MEMBERS) + len(LOUNGE_CHAT)


def test_guide_is_five_lines_after_its_title() -> None:
    assert len(GUIDE) == 5
