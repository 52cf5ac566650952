"""core/settings/service.py and core/settings/registry.py: defaults, parsing, who may change
what, and that only values differing from the defaults are stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from core.errors import InvalidInput, NotAllowed
from core.events import UserRef
from core.i18n import render
from core.members.models import Community, Member, Role
from core.settings.registry import SETTINGS, BoolSetting, IntSetting
from core.settings.service import SettingsService
from core.settings.tables import community_settings
from tests.conftest import snapshot


async def _member(
    app: App, name: str, role: Role = Role.LEARNER, community: Community | None = None
) -> Member:
    community = community or await app.community()
    members = app.services.members
    member = await members.ensure_member(community, UserRef("console", name.lower(), name))
    if role is not Role.LEARNER:
        member = await members.assign_role(community, member, role, via="test")
    return member


async def _stored(app: App) -> dict[tuple[int, str], str]:
    async with app.db.read() as conn:
        rows = await conn.execute(select(community_settings))
        return {(row.community_id, row.key): row.value for row in rows}


async def test_defaults_for_every_registered_setting(app: App) -> None:
    community = await app.community()
    values = await app.services.settings.all(community.id)
    assert values == {key: spec.default for key, spec in SETTINGS.items()}
    # The economy's documented defaults.
    assert values["message.points"] == 1
    assert values["message.min_length"] == 10
    assert values["message.cooldown_seconds"] == 60
    assert values["cap.message"] == 20
    assert values["checkin.points"] == 5
    assert values["checkin.streak_bonus"] == 1
    assert values["checkin.streak_bonus_max"] == 10
    assert values["award.budget"] == 200
    assert values["award.max"] == 1000
    assert values["cap.award"] == 500
    assert values["points.expiry_days"] == 0
    assert values["top.include_staff"] is False
    assert await _stored(app) == {}


async def test_set_then_get_in_this_and_a_fresh_service(app: App) -> None:
    community = await app.community()
    creator = await _member(app, "Mei", Role.CREATOR)
    settings = app.services.settings
    assert await settings.set(community.id, "cap.message", "30", actor=creator) == 30
    assert await settings.set(community.id, " Top.Include_Staff ", "on", actor=creator) is True
    assert await settings.get(community.id, "cap.message") == 30
    assert await settings.get(community.id, "top.include_staff") is True
    # Another process (no cache) reads the stored values.
    fresh = SettingsService(app.db, app.clock)
    assert await fresh.get(community.id, "cap.message") == 30
    assert await fresh.get(community.id, "top.include_staff") is True
    assert await fresh.get(community.id, "cap.award") == 500
    assert await _stored(app) == {
        (community.id, "cap.message"): "30",
        (community.id, "top.include_staff"): "on",
    }


async def test_only_values_that_differ_from_the_default_are_stored(app: App) -> None:
    community = await app.community()
    creator = await _member(app, "Mei", Role.CREATOR)
    settings = app.services.settings
    assert await settings.set(community.id, "award.budget", "200", actor=creator) == 200
    assert await _stored(app) == {}
    await settings.set(community.id, "award.budget", "150", actor=creator)
    await settings.set(community.id, "top.include_staff", "yes", actor=creator)
    assert await _stored(app) == {
        (community.id, "award.budget"): "150",
        (community.id, "top.include_staff"): "on",
    }
    # Back to the default: the row goes away, the value is the default again.
    await settings.set(community.id, "award.budget", "200", actor=creator)
    await settings.set(community.id, "top.include_staff", "off", actor=creator)
    assert await _stored(app) == {}
    assert await settings.get(community.id, "award.budget") == 200
    assert await settings.get(community.id, "top.include_staff") is False


async def test_settings_are_per_community(app: App) -> None:
    home = await app.community()
    other = await app.services.members.ensure_community("otherhall", default_locale="en", timezone="UTC")
    mei = await _member(app, "Mei", Role.CREATOR)
    olga = await _member(app, "Olga", Role.CREATOR, community=other)
    settings = app.services.settings
    await settings.set(home.id, "cap.message", "5", actor=mei)
    await settings.set(other.id, "cap.message", "7", actor=olga)
    assert await settings.get(home.id, "cap.message") == 5
    assert await settings.get(other.id, "cap.message") == 7


BAD_VALUES = [
    ("no.such.rule", "5", "Unknown rule no.such.rule. Send /rules to see them all."),
    ("cap.message", "abc", "cap.message takes a whole number, not abc."),
    ("cap.message", "3.5", "cap.message takes a whole number, not 3.5."),
    ("cap.message", "", "cap.message takes a whole number, not ."),
    ("cap.message", "１２", "cap.message takes a whole number, not １２."),
    ("cap.message", "+5", "cap.message takes a whole number, not +5."),
    ("cap.message", "-1", "cap.message must be between 0 and 100000."),
    ("cap.message", "100001", "cap.message must be between 0 and 100000."),
    ("award.max", "0", "award.max must be between 1 and 1000000."),
    ("message.min_length", "9" * 13, "message.min_length must be between 1 and 1000."),
    ("points.expiry_days", "3651", "points.expiry_days must be between 0 and 3650."),
    ("top.include_staff", "maybe", "top.include_staff takes on or off, not maybe."),
    ("top.include_staff", "2", "top.include_staff takes on or off, not 2."),
]


async def test_bad_keys_and_values_are_invalid_input_and_store_nothing(app: App) -> None:
    community = await app.community()
    creator = await _member(app, "Mei", Role.CREATOR)
    before = await snapshot(app.db)
    for key, value, error in BAD_VALUES:
        with pytest.raises(InvalidInput) as raised:
            await app.services.settings.set(community.id, key, value, actor=creator)
        assert render(raised.value.message, "en") == error, (key, value)
    assert await snapshot(app.db) == before
    assert await app.services.settings.all(community.id) == {
        key: spec.default for key, spec in SETTINGS.items()
    }


async def test_a_doubled_minus_sign_is_invalid_input(app: App) -> None:
    community = await app.community()
    creator = await _member(app, "Mei", Role.CREATOR)
    with pytest.raises(InvalidInput):
        await app.services.settings.set(community.id, "cap.message", "--5", actor=creator)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30", 30),
        (" 30 ", 30),
        ("1,000", 1000),
        ("1_000", 1000),
        ("0", 0),
        ("100000", 100000),
        ("007", 7),
    ],
)
def test_int_parsing(text: str, value: int) -> None:
    spec = SETTINGS["cap.message"]
    assert isinstance(spec, IntSetting)
    assert spec.parse(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("on", True),
        ("ON", True),
        (" yes ", True),
        ("True", True),
        ("1", True),
        ("开", True),
        ("off", False),
        ("No", False),
        ("FALSE", False),
        ("0", False),
        ("关", False),
    ],
)
def test_bool_parsing(text: str, value: bool) -> None:
    spec = SETTINGS["top.include_staff"]
    assert isinstance(spec, BoolSetting)
    assert spec.parse(text) is value


async def test_bool_values_are_stored_as_on_or_off(app: App) -> None:
    community = await app.community()
    creator = await _member(app, "Mei", Role.CREATOR)
    settings = app.services.settings
    for text, value in (("YES", True), ("关", False), ("1", True), ("false", False), ("开", True)):
        assert await settings.set(community.id, "top.include_staff", text, actor=creator) is value
        assert await SettingsService(app.db, app.clock).get(community.id, "top.include_staff") is value
        assert await _stored(app) == ({(community.id, "top.include_staff"): "on"} if value else {})


@pytest.mark.parametrize("role", [Role.LEARNER, Role.MODERATOR])
async def test_only_creators_change_settings(app: App, role: Role) -> None:
    community = await app.community()
    await _member(app, "Mei", Role.CREATOR)
    actor = await _member(app, "Ana", role)
    before = await snapshot(app.db)
    with pytest.raises(NotAllowed) as raised:
        await app.services.settings.set(community.id, "cap.message", "30", actor=actor)
    assert render(raised.value.message, "en") == "Only creators can change the rules."
    assert await snapshot(app.db) == before
    assert await app.services.settings.get(community.id, "cap.message") == 20


async def test_a_creator_of_another_community_cannot_change_this_one(app: App) -> None:
    home = await app.community()
    other = await app.services.members.ensure_community("otherhall", default_locale="en", timezone="UTC")
    olga = await _member(app, "Olga", Role.CREATOR, community=other)
    with pytest.raises(NotAllowed):
        await app.services.settings.set(home.id, "cap.message", "30", actor=olga)
    assert await _stored(app) == {}


async def test_refusal_comes_before_validation(app: App) -> None:
    """A learner probing keys learns nothing about which exist."""
    community = await app.community()
    learner = await _member(app, "Ana")
    with pytest.raises(NotAllowed):
        await app.services.settings.set(community.id, "no.such.rule", "x", actor=learner)
