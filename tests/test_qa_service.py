"""core/qa/service.py: bounties in escrow, acceptance, expiry, moderation — the ledger's
invariants after each, and races between processes (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.app import App
from bot.config import Config
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import ChatKind, ChatRef, UserRef
from core.ledger.models import SystemAccount, SystemCode
from core.members.models import Chat, Community, Member, Role


@dataclass
class World:
    community: Community
    lounge: Chat
    ana: Member  # asks
    ben: Member  # answers
    cai: Member  # answers too
    sam: Member  # moderator


@pytest.fixture
async def world(app: App) -> World:
    community = await app.community()
    members = app.services.members
    ana, ben, cai, sam = [
        await members.ensure_member(community, UserRef("console", n.lower(), n))
        for n in ("Ana", "Ben", "Cai", "Sam")
    ]
    sam = await members.assign_role(community, sam, Role.MODERATOR, via="test")
    creator = await members.ensure_member(community, UserRef("console", "mei", "Mei"))
    creator = await members.assign_role(community, creator, Role.CREATOR, via="test")
    await app.services.points.award(community, creator, ana, 100, "starting points", "seed-ana")
    lounge = await members.ensure_chat(
        community, ChatRef("console", "group:lounge", ChatKind.GROUP, "lounge")
    )
    return World(community, lounge, ana, ben, cai, sam)


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def balance(app: App, world: World, member: Member) -> int:
    return (await app.services.ledger.balance(world.community.id, member.id)).balance


async def escrow(app: App, world: World) -> int:
    return await app.services.ledger.system_balance(world.community.id, SystemAccount(SystemCode.ESCROW))


async def ask(app: App, world: World, bounty: int, key: str = "k1") -> int:
    done = await app.services.qa.ask(
        world.community, world.ana, world.lounge, "How do I merge two DataFrames?", bounty, key, anyway=True
    )
    assert done.question is not None
    return done.question.id


async def test_a_bounty_is_held_in_escrow_and_paid_with_the_bonus_on_accept(app: App, world: World) -> None:
    qa = app.services.qa
    qid = await ask(app, world, 30)
    assert (await balance(app, world, world.ana), await escrow(app, world)) == (70, 30)
    _, answer = await qa.answer(world.community, world.ben, qid, "pd.merge(a, b, on='id')", "a1")
    done = await qa.accept(world.community, world.ana, answer.id)
    assert (done.bounty, done.bonus) == (30, 10)
    assert await balance(app, world, world.ben) == 40
    assert await escrow(app, world) == 0
    assert (await qa.question(world.community, qid)).status == "answered"
    assert await app.services.ledger.totals(world.community.id) == (0, 0)
    # The bonus is participation: it counts as earned; the bounty (another member's points) does not.
    assert (await app.services.ledger.balance(world.community.id, world.ben.id)).earned == 10


async def test_asking_twice_from_the_same_message_posts_once(app: App, world: World) -> None:
    first, again = await ask(app, world, 30), await ask(app, world, 30)
    assert first == again
    assert await escrow(app, world) == 30


async def test_a_bounty_beyond_the_balance_is_refused_and_nothing_is_posted(app: App, world: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        await ask(app, world, 500)
    assert refused.value.message.params == {"n": 100, "bounty": 500}
    assert await app.services.qa.listing(world.community, "open", world.ana) == []


async def test_who_may_answer_and_accept(app: App, world: World) -> None:
    qa = app.services.qa
    qid = await ask(app, world, 10)
    with pytest.raises(InvalidInput):
        await qa.answer(world.community, world.ana, qid, "answering myself", "a0")
    _, answer = await qa.answer(world.community, world.ben, qid, "pd.merge(a, b)", "a1")
    with pytest.raises(NotAllowed):
        await qa.accept(world.community, world.cai, answer.id)  # neither asker nor moderator
    with pytest.raises(InvalidInput):
        await qa.upvote(world.community, world.ben, answer.id)  # own answer
    assert (await qa.upvote(world.community, world.cai, answer.id))[1] is True
    assert (await qa.upvote(world.community, world.cai, answer.id))[1] is False  # once
    done = await qa.accept(world.community, world.sam, answer.id)  # a moderator may
    assert done.answer.id == answer.id


async def test_two_accepts_at_once_from_two_processes_pay_once(
    app: App, second_app: App, world: World
) -> None:
    qa = app.services.qa
    qid = await ask(app, world, 30)
    _, first = await qa.answer(world.community, world.ben, qid, "pd.merge(a, b)", "a1")
    _, second = await qa.answer(world.community, world.cai, qid, "a.join(b)", "a2")
    results = await asyncio.gather(
        app.services.qa.accept(world.community, world.ana, first.id),
        second_app.services.qa.accept(world.community, world.sam, second.id),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == 1 and all(isinstance(r, InvalidInput) for r in results if r not in accepted)
    paid = await balance(app, world, world.ben) + await balance(app, world, world.cai)
    assert paid == 40  # one bounty, one bonus
    assert await escrow(app, world) == 0
    assert await app.services.ledger.totals(world.community.id) == (0, 0)


async def test_an_accept_racing_the_expiry_either_pays_or_returns_the_bounty(
    app: App, second_app: App, world: World, clock: ManualClock
) -> None:
    qa = app.services.qa
    qid = await ask(app, world, 30)
    _, answer = await qa.answer(world.community, world.ben, qid, "pd.merge(a, b)", "a1")
    await app.services.settings.set(
        world.community.id, "qa.expire_days", "1", actor=(await _creator(app, world))
    )
    clock.advance(timedelta(days=2))
    # With an answer the job escalates rather than returning: close it by hiding instead.
    results = await asyncio.gather(
        app.services.qa.accept(world.community, world.ana, answer.id),
        second_app.services.qa.hide(world.community, world.sam, "question", qid, "off topic"),
        return_exceptions=True,
    )
    assert not isinstance(results[1], BaseException)
    ana, ben = await balance(app, world, world.ana), await balance(app, world, world.ben)
    assert (ana, ben) in ((100, 0), (70, 40))  # returned, or paid with the bonus: never both
    assert await escrow(app, world) == 0
    assert await app.services.ledger.totals(world.community.id) == (0, 0)


async def _creator(app: App, world: World) -> Member:
    return (await app.services.members.find_by_name(world.community.id, "Mei"))[0]


async def test_unanswered_questions_return_their_bounty_after_the_days(
    app: App, world: World, clock: ManualClock
) -> None:
    qid = await ask(app, world, 30)
    clock.advance(timedelta(days=6, hours=23))
    assert (await app.services.qa.tend(clock.now()))["expired"] == 0
    clock.advance(timedelta(hours=2))
    assert (await app.services.qa.tend(clock.now()))["expired"] == 1
    assert (await app.services.qa.tend(clock.now()))["expired"] == 0  # idempotent
    assert (await balance(app, world, world.ana), await escrow(app, world)) == (100, 0)
    assert (await app.services.qa.question(world.community, qid)).status == "expired"
    with pytest.raises(InvalidInput):
        await app.services.qa.answer(world.community, world.ben, qid, "too late", "a1")


async def test_answered_but_unaccepted_questions_go_to_the_moderators_once(
    app: App, world: World, clock: ManualClock
) -> None:
    qid = await ask(app, world, 30)
    await app.services.qa.answer(world.community, world.ben, qid, "pd.merge(a, b)", "a1")
    app.services.notices.take()
    clock.advance(timedelta(days=8))
    assert (await app.services.qa.tend(clock.now()))["escalated"] == 1
    assert (await app.services.qa.tend(clock.now()))["escalated"] == 0
    told = {reply.to_member for _, reply in app.services.notices.take()}
    assert told == {world.sam.id, (await _creator(app, world)).id}
    assert await escrow(app, world) == 30  # still held: a moderator can accept


async def test_a_bonus_a_crash_left_unpaid_is_paid_by_the_job(
    app: App, world: World, clock: ManualClock
) -> None:
    from sqlalchemy import update

    from core.qa.tables import questions

    qa = app.services.qa
    qid = await ask(app, world, 0)
    _, answer = await qa.answer(world.community, world.ben, qid, "pd.merge(a, b)", "a1")
    await qa.accept(world.community, world.ana, answer.id)
    async with app.db.write() as conn:  # as if the process died before marking the bonus paid
        await conn.execute(update(questions).values(bonus_paid=False))
    assert (await qa.tend(clock.now()))["bonuses"] == 1
    assert await balance(app, world, world.ben) == 10  # the same key: paid once in all
