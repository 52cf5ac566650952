"""Web sign-in: one-time login links and server-side sessions, for the dashboard (creators and
moderators) and for a learner's own pages. A link and its session carry their scope: a learner's
link never opens the dashboard.

Guarantees:
- a login token is random (256 bits), single use, valid for LINK_TTL, bound to one member of
  one community; only its SHA-256 is stored;
- a session id is random (256 bits) and only its SHA-256 is stored; a session is live until it
  is revoked (sign out, sign out everywhere, a role change), its member is erased, or it has not
  been seen for SESSION_IDLE;
- every request is authorized here with the member's current role, read from the database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, insert, select, update

from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed, NotFound, StudyhallError
from core.events import UserRef
from core.i18n import msg, nmsg
from core.members.models import Community, Member, Role
from core.members.service import MemberService
from core.storage.database import Database
from core.web_sessions.forms import FormKeys
from core.web_sessions.mini_app import verified_user
from core.web_sessions.store import end_sessions
from core.web_sessions.tables import web_login_tokens, web_sessions

LINK_TTL = timedelta(minutes=10)
SESSION_IDLE = timedelta(days=14)
SEEN_EVERY = timedelta(minutes=1)  # last_seen is written at most this often per session
LINKS_PER_HOUR = 10
LOGIN_PATH = "/dashboard/login/"
STAFF = (Role.CREATOR, Role.MODERATOR)


class Scope(StrEnum):
    DASHBOARD = "dashboard"  # creators and moderators: /dashboard
    LEARNER = "learner"  # any member, their own courses, orders and points: /me


LOGIN_PATHS = {Scope.DASHBOARD: LOGIN_PATH, Scope.LEARNER: "/me/login/"}


class DashboardOff(StudyhallError):
    """The dashboard is not enabled on this server (no secret key)."""


class LoginRefused(StudyhallError):
    """A login link that is used, expired or unknown: no session."""

    def __init__(self, reason: LoginFailure, scope: Scope = Scope.DASHBOARD) -> None:
        messages = LEARNER_FAILURE_MESSAGES if scope is Scope.LEARNER else FAILURE_MESSAGES
        super().__init__(messages[reason])
        self.reason = reason


class LoginFailure(StrEnum):
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NOT_STAFF = "not_staff"
    MINI_APP = "mini_app"


FAILURE_MESSAGES = {
    LoginFailure.USED: msg("This sign-in link has been used already. Send /dashboard for a new one."),
    LoginFailure.EXPIRED: msg("This sign-in link has expired. Send /dashboard for a new one."),
    LoginFailure.UNKNOWN: msg("This sign-in link is not valid. Send /dashboard for a new one."),
    LoginFailure.NOT_STAFF: msg("The dashboard is for creators and moderators."),
    LoginFailure.MINI_APP: msg("Telegram did not vouch for this sign-in. Open the page again from the bot."),
}
LEARNER_FAILURE_MESSAGES = {
    LoginFailure.USED: msg("This sign-in link has been used already. Send /web to the bot for a new one."),
    LoginFailure.EXPIRED: msg("This sign-in link has expired. Send /web to the bot for a new one."),
    LoginFailure.UNKNOWN: msg("This sign-in link is not valid. Send /web to the bot for a new one."),
    LoginFailure.MINI_APP: FAILURE_MESSAGES[LoginFailure.MINI_APP],
}


@dataclass(frozen=True)
class WebSession:
    id: int
    community_id: int
    member_id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str


@dataclass(frozen=True)
class WebLogin:
    """An authorized request: the session, and its member and community as they are now."""

    session: WebSession
    member: Member
    community: Community


def digest(secret: str) -> str:
    """What is stored for a token or a session id."""
    return hashlib.sha256(secret.encode()).hexdigest()


class WebSessionService:
    def __init__(self, db: Database, clock: Clock, members: MemberService) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self.base_url: str | None = None  # set by the app wiring when the dashboard is on
        self.forms = FormKeys(db, clock)

    def enable(self, base_url: str) -> None:
        """Turn the dashboard on; login links start with ``base_url``."""
        self.base_url = base_url.rstrip("/")

    def disable(self) -> None:
        """No dashboard is served after all (its port was taken): /dashboard says so."""
        self.base_url = None

    async def login_link(self, community: Community, member: Member, scope: Scope = Scope.DASHBOARD) -> str:
        """A one-time sign-in link: to the dashboard for a creator or moderator of
        ``community``; to their own pages for any of its members."""
        if self.base_url is None:
            raise DashboardOff(msg("The web dashboard is not enabled on this server."))
        member = await self._allowed(community, member.id, scope)
        now = self._clock.now()
        async with self._db.read() as conn:
            recent = (
                await conn.execute(
                    select(func.count())
                    .select_from(web_login_tokens)
                    .where(
                        web_login_tokens.c.member_id == member.id,
                        web_login_tokens.c.created_at > now - timedelta(hours=1),
                    )
                )
            ).scalar_one()
        if recent >= LINKS_PER_HOUR:
            raise InvalidInput(
                nmsg(
                    "You have asked for {n} sign-in link this hour; try again later.",
                    "You have asked for {n} sign-in links this hour; try again later.",
                    recent,
                )
            )
        token = secrets.token_urlsafe(32)
        async with self._db.write() as conn:
            await conn.execute(
                insert(web_login_tokens).values(
                    token_hash=digest(token),
                    community_id=community.id,
                    member_id=member.id,
                    created_at=now,
                    expires_at=now + LINK_TTL,
                    scope=scope.value,
                )
            )
        return f"{self.base_url}{LOGIN_PATHS[scope]}{token}"

    async def sign_in(
        self, token: str, user_agent: str, scope: Scope = Scope.DASHBOARD
    ) -> tuple[str, WebLogin]:
        """Use a login token of ``scope``: a new session and its (secret) id. Raises LoginRefused."""
        now = self._clock.now()
        hashed = digest(token)
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    select(web_login_tokens).where(
                        web_login_tokens.c.token_hash == hashed, web_login_tokens.c.scope == scope.value
                    )
                )
            ).first()
            if row is None:
                raise LoginRefused(LoginFailure.UNKNOWN, scope)
            # The conditional update is what makes the token single use, across processes.
            taken = await conn.execute(
                update(web_login_tokens)
                .where(
                    web_login_tokens.c.token_hash == hashed,
                    web_login_tokens.c.used_at.is_(None),
                    web_login_tokens.c.expires_at > now,
                )
                .values(used_at=now)
            )
            if taken.rowcount != 1:
                failure = LoginFailure.USED if row.used_at is not None else LoginFailure.EXPIRED
                raise LoginRefused(failure, scope)
        community = await self._members.community_by_id(row.community_id)
        try:
            await self._allowed(community, row.member_id, scope)
        except (NotAllowed, NotFound):
            raise LoginRefused(LoginFailure.NOT_STAFF) from None
        return await self.open_session(community, row.member_id, user_agent, scope)

    async def sign_in_mini_app(
        self, community: Community, init_data: str, bot_token: str, user_agent: str
    ) -> tuple[str, WebLogin]:
        """A learner session for whoever opened the bot's Mini App, from the init data Telegram
        signed with ``bot_token`` (see mini_app.py). Raises LoginRefused when it is missing,
        forged or stale."""
        user = verified_user(init_data, bot_token, self._clock.now())
        if user is None:
            raise LoginRefused(LoginFailure.MINI_APP, Scope.LEARNER)
        ref = UserRef("telegram", str(user.id), user.name, language=user.language_code)
        member = await self._members.ensure_member(community, ref)
        return await self.open_session(community, member.id, user_agent, Scope.LEARNER)

    async def sign_in_as(self, community: Community, user: UserRef, user_agent: str) -> tuple[str, WebLogin]:
        """A learner session for the member behind ``user``, whose account a platform has just
        vouched for (WeChat's OAuth); created as on first contact if the adapter has not met
        them yet, and otherwise left as it is (its name included)."""
        member = await self._members.find_by_identity(community.id, user.platform, user.external_id)
        if member is None:
            member = await self._members.ensure_member(community, user)
        return await self.open_session(community, member.id, user_agent, Scope.LEARNER)

    async def open_session(
        self, community: Community, member_id: int, user_agent: str, scope: Scope
    ) -> tuple[str, WebLogin]:
        """A new session of ``scope`` for a member whose identity the caller has established (a
        login link, Telegram's signed Mini App data); its (secret) id and what it authorizes."""
        now = self._clock.now()
        session_id = secrets.token_urlsafe(32)
        async with self._db.write() as conn:
            await conn.execute(
                insert(web_sessions).values(
                    id_hash=digest(session_id),
                    community_id=community.id,
                    member_id=member_id,
                    created_at=now,
                    last_seen_at=now,
                    user_agent=user_agent[:300],
                    scope=scope.value,
                )
            )
        login = await self.authenticate(session_id, scope)
        assert login is not None  # just made, for a member allowed in this scope
        return session_id, login

    async def authenticate(self, session_id: str, scope: Scope = Scope.DASHBOARD) -> WebLogin | None:
        """The live session ``session_id`` names in ``scope``, with its member's current role;
        None when there is none (never was, revoked, idle too long, member erased, another
        scope). NotAllowed when a dashboard session's member is no longer a creator or moderator."""
        now = self._clock.now()
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(web_sessions).where(
                        web_sessions.c.id_hash == digest(session_id),
                        web_sessions.c.scope == scope.value,
                        web_sessions.c.revoked_at.is_(None),
                        web_sessions.c.last_seen_at > now - SESSION_IDLE,
                    )
                )
            ).first()
        if row is None:
            return None
        community = await self._members.community_by_id(row.community_id)
        member = await self._allowed(community, row.member_id, scope)
        if now - row.last_seen_at >= SEEN_EVERY:
            async with self._db.write() as conn:
                await conn.execute(
                    update(web_sessions).where(web_sessions.c.id == row.id).values(last_seen_at=now)
                )
        return WebLogin(_session(row), member, community)

    async def sessions(self, member: Member) -> list[WebSession]:
        """The member's live sessions, most recently seen first."""
        now = self._clock.now()
        query = (
            select(web_sessions)
            .where(
                web_sessions.c.member_id == member.id,
                web_sessions.c.revoked_at.is_(None),
                web_sessions.c.last_seen_at > now - SESSION_IDLE,
            )
            .order_by(web_sessions.c.last_seen_at.desc(), web_sessions.c.id.desc())
        )
        async with self._db.read() as conn:
            return [_session(row) for row in await conn.execute(query)]

    async def revoke(self, member: Member, session: int) -> bool:
        """End one of the member's own sessions; False when it is not theirs or already over."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(web_sessions)
                .where(
                    web_sessions.c.id == session,
                    web_sessions.c.member_id == member.id,
                    web_sessions.c.revoked_at.is_(None),
                )
                .values(revoked_at=self._clock.now())
            )
            if result.rowcount == 1:
                await record(
                    conn,
                    community_id=member.community_id,
                    at=self._clock.now(),
                    action="session.revoke",
                    actor_member_id=member.id,
                    subject_member_id=member.id,
                    session=session,
                )
        return result.rowcount == 1

    async def revoke_all(self, member: Member) -> int:
        """Sign out everywhere: end every session of the member."""
        async with self._db.write() as conn:
            ended = await end_sessions(conn, member.id, self._clock.now())
            await record(
                conn,
                community_id=member.community_id,
                at=self._clock.now(),
                action="session.revoke_all",
                actor_member_id=member.id,
                subject_member_id=member.id,
                sessions=ended,
            )
            return ended

    async def sign_out(self, session_id: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == digest(session_id), web_sessions.c.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )

    async def _allowed(self, community: Community, member_id: int, scope: Scope) -> Member:
        """The member as the database has them now; NotAllowed unless a member of ``community``
        (and, for the dashboard, one of its staff)."""
        member = await self._members.get_member(member_id, fresh=True)
        if member.community_id != community.id:
            raise NotAllowed(FAILURE_MESSAGES[LoginFailure.NOT_STAFF])
        if scope is Scope.DASHBOARD and member.role not in STAFF:
            raise NotAllowed(FAILURE_MESSAGES[LoginFailure.NOT_STAFF])
        return member


def _session(row: object) -> WebSession:
    return WebSession(
        row.id,  # type: ignore[attr-defined]
        row.community_id,  # type: ignore[attr-defined]
        row.member_id,  # type: ignore[attr-defined]
        row.created_at,  # type: ignore[attr-defined]
        row.last_seen_at,  # type: ignore[attr-defined]
        row.user_agent,  # type: ignore[attr-defined]
    )
