"""web/dashboard/chats.py over HTTP: the paid chats with what each requires, binding and
unbinding as /bind and /unbind do, the dry run and "fix now" as /access check and fix do,
problems in plain words in the member's language, refusals beside their field with nothing
changed, a moderator refused, CSRF, and another community's chat a 404."""

from __future__ import annotations

import re
from datetime import datetime

from bot.adapters.console.access import ConsoleChatAccess
from core.access.ports import PlatformRefused
from core.events import ChatKind, ChatRef
from core.i18n import msg
from tests.conftest import snapshot
from tests.web_fixtures import WebWorld, new_key

SETUP = (
    ":as Mei creator",
    "/plan add monthly 9.99 USD month trial=7 grace=2 Monthly membership",
    ":in vip",
    "hello",
    ":in lounge",
    "hello",
    ":dm",
)
UNCHANGED = ("activity", "web_form_keys")


def group_id(html: str, title: str) -> str:
    found = re.search(rf'<option value="(\d+)"[^>]*>{title} \(Console\)</option>', html)
    assert found, html
    return found.group(1)


async def bind(world: WebWorld, chat: str, kind: str = "plan", target: str = "monthly") -> object:
    return await world.submit(
        "/dashboard/chats", "/dashboard/chats/bind", chat=chat, kind=kind, target=target
    )


async def test_list_bind_and_unbind_as_the_commands_do(world: WebWorld) -> None:
    await world.console(*SETUP)
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/chats")).text()
    assert 'id="no-bindings"' in html and 'href="/dashboard/chats"' in html
    vip = group_id(html, "vip")
    group_id(html, "lounge")

    bound = await bind(world, vip)
    assert bound.status == 303 and bound.headers["Location"] == "/dashboard/chats?done=bound"  # type: ignore[attr-defined]
    html = await (await world.client.get("/dashboard/chats?done=bound")).text()
    assert "The group is paid now." in html
    assert "Who may be in: subscribers to the plan Monthly membership (monthly)" in html
    assert "vip (console): plan monthly" in await world.console.text(":as Mei", ":dm", "/bindings")
    assert "vip is for members only" in await world.console.text(":as Ana", ":in vip")

    gone = await world.submit(
        "/dashboard/chats", "/dashboard/chats/unbind", chat=vip, kind="plan", target="monthly"
    )
    assert gone.status == 303 and gone.headers["Location"] == "/dashboard/chats?done=unbound"
    assert 'id="no-bindings"' in await (await world.client.get("/dashboard/chats")).text()
    assert "No paid chats yet" in await world.console.text(":as Mei", ":dm", "/bindings")


async def test_refusals_beside_the_field_and_nothing_changed(world: WebWorld) -> None:
    await world.console(*SETUP)
    await world.sign_in("Mei")
    vip = group_id(await (await world.client.get("/dashboard/chats")).text(), "vip")
    before = await snapshot(world.app.db, exclude=UNCHANGED)
    refused = await bind(world, vip, "plan", "nope")
    html = await refused.text()  # type: ignore[attr-defined]
    assert refused.status == 400  # type: ignore[attr-defined]
    assert re.search(r'id="error-target">There is no plan nope\. /plans lists them\.</p>', html), html
    assert 'value="nope"' in html  # the typed value stays in the field
    refused = await bind(world, vip, "bogus", "monthly")
    assert re.search(r'id="error-kind">Bind a course, a plan or a tier', await refused.text())  # type: ignore[attr-defined]
    refused = await bind(world, vip, "plan", "  ")
    assert 'id="error-target">Give a course or plan code, or a tier name.' in await refused.text()  # type: ignore[attr-defined]
    refused = await bind(world, "", "plan", "monthly")
    assert refused.status == 400 and 'id="error-chat">Choose a group.' in await refused.text()  # type: ignore[attr-defined]
    assert await snapshot(world.app.db, exclude=UNCHANGED) == before


async def test_the_dry_run_then_fix_now(world: WebWorld) -> None:
    # Ana subscribes and Ben chats in vip while it is free; then vip becomes paid.
    await world.console(*SETUP, ":as Ana", "/subscribe monthly", ":as Ben", ":in vip", "hi")
    await world.console(":as Mei", ":in vip", "/bind plan monthly")
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/chats/check")).text()
    assert re.findall(r"<li>(.*)</li>", html) == [
        "<strong>remove</strong> Ben · vip · no course, plan or tier that grants it",
        "<strong>send an invite</strong> Ana · vip · entitled but not in the chat",
    ]
    assert 'id="no-problems"' in html
    check = await world.console.text(":as Mei", ":dm", "/access check")  # the command agrees
    assert "2 changes would be made:" in check and "remove Ben · vip" in check and "invite Ana · vip" in check

    fixed = await world.submit("/dashboard/chats/check", "/dashboard/chats/fix")
    assert fixed.status == 303 and fixed.headers["Location"] == "/dashboard/chats/check?done=2&failed=0"
    html = await (await world.client.get(fixed.headers["Location"])).text()
    assert "Done: 2 changes." in html and 'id="in-order"' in html
    assert "Paid chats are in order" in await world.console.text("/access check")


class Refusing(ConsoleChatAccess):
    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        raise PlatformRefused(msg("The bot is not in that group any more."))


async def test_problems_and_refusals_in_plain_words_in_the_members_language(world: WebWorld) -> None:
    await world.console(*SETUP, ":in vip", "/bind plan monthly", ":as Ana", "/subscribe monthly")
    app = world.app
    community = await app.community()
    mei = (await app.services.members.find_by_name(community.id, "Mei"))[0]
    discord = await app.services.members.ensure_chat(
        community, ChatRef("discord", "123", ChatKind.GROUP, "Discord VIP")
    )
    await app.services.paid_chats.bind(community, mei, discord, "plan", "monthly")
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/chats/check")).text()
    not_connected = (
        "studyhall is not connected to this chat&#39;s platform right now: nothing can change there."
    )
    assert f"<strong>Discord VIP</strong> (Discord): {not_connected}" in html, html
    app.services.paid_chats.ports["console"] = Refusing()
    fixed = await world.submit("/dashboard/chats/check", "/dashboard/chats/fix")
    assert fixed.headers["Location"] == "/dashboard/chats/check?done=0&failed=1"
    html = await (await world.client.get(fixed.headers["Location"])).text()
    assert "Done: 0 changes. 1 could not be made: see what stands in the way." in html
    assert re.search(
        r'id="refused">\s*<li><strong>vip</strong> \(Console\): The bot is not in that group any more\.</li>',
        html,
    ), html
    await world.client.get("/dashboard/lang?to=zh_CN&next=/dashboard/chats/check")
    html = await (await world.client.get("/dashboard/chats/check")).text()
    assert "Discord VIP" in html and "not connected" not in html and "studyhall" in html
    assert "The bot is not in that group any more." not in html and "机器人" in html


async def test_a_moderator_csrf_and_another_communitys_chat(world: WebWorld) -> None:
    await world.console(*SETUP)
    await world.sign_in("Sam", "moderator")
    assert (await world.client.get("/dashboard/chats")).status == 403
    assert (await world.client.get("/dashboard/chats/check")).status == 403
    assert 'href="/dashboard/chats"' not in await (await world.client.get("/dashboard/qa")).text()
    csrf = await world.csrf("/dashboard/qa")
    as_moderator = await world.client.post(
        "/dashboard/chats/fix", data={"csrf": csrf, "form_key": new_key()}, allow_redirects=False
    )
    assert as_moderator.status == 403

    await world.sign_in("Mei")
    vip = group_id(await (await world.client.get("/dashboard/chats")).text(), "vip")
    members = world.app.services.members
    other = await members.ensure_community("other", default_locale="en", timezone="UTC")
    theirs = await members.ensure_chat(other, ChatRef("console", "group:theirs", ChatKind.GROUP, "theirs"))
    before = await snapshot(world.app.db, exclude=UNCHANGED)
    no_csrf = await world.client.post(
        "/dashboard/chats/bind",
        data={"form_key": new_key(), "chat": vip, "kind": "plan", "target": "monthly"},
        allow_redirects=False,
    )
    assert no_csrf.status == 403
    assert (await bind(world, str(theirs.id))).status == 404  # type: ignore[attr-defined]
    unbind = await world.submit(
        "/dashboard/chats", "/dashboard/chats/unbind", chat=str(theirs.id), kind="plan", target="monthly"
    )
    assert unbind.status == 404
    assert await snapshot(world.app.db, exclude=UNCHANGED) == before
