"""Web sign-in for creators and moderators: one-time login links and server-side sessions.

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
from core.i18n import msg, nmsg
from core.members.models import Community, Member, Role
from core.members.service import MemberService
from core.storage.database import Database
from core.web_sessions.forms import FormKeys
from core.web_sessions.store import end_sessions
from core.web_sessions.tables import web_login_tokens, web_sessions

LINK_TTL = timedelta(minutes=10)
SESSION_IDLE = timedelta(days=14)
SEEN_EVERY = timedelta(minutes=1)  # last_seen is written at most this often per session
LINKS_PER_HOUR = 10
LOGIN_PATH = "/dashboard/login/"
STAFF = (Role.CREATOR, Role.MODERATOR)


class DashboardOff(StudyhallError):
    """The dashboard is not enabled on this server (no secret key)."""


class LoginRefused(StudyhallError):
    """A login link that is used, expired or unknown: no session."""

    def __init__(self, reason: LoginFailure) -> None:
        super().__init__(FAILURE_MESSAGES[reason])
        self.reason = reason


class LoginFailure(StrEnum):
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NOT_STAFF = "not_staff"


FAILURE_MESSAGES = {
    LoginFailure.USED: msg("This sign-in link has been used already. Send /dashboard for a new one."),
    LoginFailure.EXPIRED: msg("This sign-in link has expired. Send /dashboard for a new one."),
    LoginFailure.UNKNOWN: msg("This sign-in link is not valid. Send /dashboard for a new one."),
    LoginFailure.NOT_STAFF: msg("The dashboard is for creators and moderators."),
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

    async def login_link(self, community: Community, member: Member) -> str:
        """A one-time sign-in link for a creator or moderator of ``community``."""
        if self.base_url is None:
            raise DashboardOff(msg("The web dashboard is not enabled on this server."))
        member = await self._staff(community, member.id)
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
                )
            )
        return f"{self.base_url}{LOGIN_PATH}{token}"

    async def sign_in(self, token: str, user_agent: str) -> tuple[str, WebLogin]:
        """Use a login token: a new session and its (secret) id. Raises LoginRefused."""
        now = self._clock.now()
        hashed = digest(token)
        async with self._db.write() as conn:
            row = (
                await conn.execute(select(web_login_tokens).where(web_login_tokens.c.token_hash == hashed))
            ).first()
            if row is None:
                raise LoginRefused(LoginFailure.UNKNOWN)
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
                raise LoginRefused(failure)
        community = await self._members.community_by_id(row.community_id)
        try:
            await self._staff(community, row.member_id)
        except (NotAllowed, NotFound):
            raise LoginRefused(LoginFailure.NOT_STAFF) from None
        session_id = secrets.token_urlsafe(32)
        async with self._db.write() as conn:
            await conn.execute(
                insert(web_sessions).values(
                    id_hash=digest(session_id),
                    community_id=community.id,
                    member_id=row.member_id,
                    created_at=now,
                    last_seen_at=now,
                    user_agent=user_agent[:300],
                )
            )
        login = await self.authenticate(session_id)
        assert login is not None  # just made, by staff
        return session_id, login

    async def authenticate(self, session_id: str) -> WebLogin | None:
        """The live session ``session_id`` names, with its member's current role; None when
        there is none (never was, revoked, idle too long, member erased). NotAllowed when its
        member is no longer a creator or moderator."""
        now = self._clock.now()
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(web_sessions).where(
                        web_sessions.c.id_hash == digest(session_id),
                        web_sessions.c.revoked_at.is_(None),
                        web_sessions.c.last_seen_at > now - SESSION_IDLE,
                    )
                )
            ).first()
        if row is None:
            return None
        community = await self._members.community_by_id(row.community_id)
        member = await self._staff(community, row.member_id)
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

    async def _staff(self, community: Community, member_id: int) -> Member:
        """The member as the database has them now; NotAllowed unless staff of ``community``."""
        member = await self._members.get_member(member_id, fresh=True)
        if member.community_id != community.id or member.role not in STAFF:
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
