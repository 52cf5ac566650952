"""Lessons in chat: /lesson add and edit (published, or a draft with content review on),
/lesson history and restore, and /drafts for the owner to approve or reject what others wrote.
The rules are CatalogService's (core/catalog/lessons.py); the dashboard calls the same."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.catalog.lessons import MAX_UNLOCK_DAYS
from core.catalog.versions import DRAFT, PUBLISHED, STATES, LessonVersion, LessonWrite
from core.commands.context import Context
from core.commands.options import IntOption, OptionSet
from core.commands.params import Rest, Word
from core.commands.router import Router
from core.errors import InvalidInput
from core.i18n import msg
from core.replies import Reply, ReplyBuilder

router = Router()

LESSON_USAGE = "/lesson add CODE [day=N] TITLE | CONTENT…"
LESSON_EDIT_USAGE = "/lesson edit CODE N TITLE | CONTENT…"
HISTORY_USAGE = "/lesson history CODE N | /lesson restore CODE VERSION"
DRAFTS_USAGE = "/drafts | /drafts approve ID | /drafts reject ID"
LESSON_OPTIONS = OptionSet(
    (IntOption("day", minimum=0, maximum=MAX_UNLOCK_DAYS),),
    usage=LESSON_USAGE,
    example="/lesson add py101 Reading CSV | pandas.read_csv(path, sep=';')",
    action="add",
    until="|",  # the lesson's content is the creator's own words, code with a=b included
)


@router.command(
    "lesson",
    help=msg("Add a lesson to a course, rewrite one, or see and restore its versions (staff)"),
    params=(Word("action"), Word("code", max_length=30), Rest("lesson", max_length=4000)),
    options=(LESSON_OPTIONS,),
)
async def lesson(ctx: Context) -> Reply:
    action = ctx.args["action"].lower()
    if action == "edit":
        return await _edit_lesson(ctx)
    if action == "history":
        return await _history(ctx)
    if action == "restore":
        return await _restore(ctx)
    if action != "add":
        raise InvalidInput(
            msg("Usage: {usage}", usage=f"{LESSON_USAGE} | {LESSON_EDIT_USAGE} | {HISTORY_USAGE}")
        )
    text = ctx.args["lesson"].strip()
    title, bar, body = text.partition("|")
    file = ctx.event.attachments[0] if ctx.event.attachments else None
    if not bar and file is None:
        raise InvalidInput(msg("Usage: {usage}", usage=LESSON_USAGE))
    written = await ctx.services.catalog.write_lesson(
        ctx.community,
        ctx.member,
        ctx.args["code"],
        None,
        title=title,
        body=body.strip(),
        unlock_days=ctx.options.get("day", 0),
        file=file,
    )
    added = written.lesson
    if added is None:
        return _drafted(written)
    if added.file_name:
        return Reply.text(
            msg(
                "Lesson {n} added: {title}, with the file {file}",
                n=added.position,
                title=added.title,
                file=added.file_name,
            )
        )
    return Reply.text(msg("Lesson {n} added: {title}", n=added.position, title=added.title))


async def _edit_lesson(ctx: Context) -> Reply:
    """Rewrite lesson N's title and text (its drip day stays; a file sent with it replaces the
    lesson's file)."""
    number, _, text = ctx.args["lesson"].strip().partition(" ")
    title, bar, body = text.partition("|")
    file = ctx.event.attachments[0] if ctx.event.attachments else None
    if not _is_number(number) or (not bar and file is None):
        raise InvalidInput(msg("Usage: {usage}", usage=LESSON_EDIT_USAGE))
    catalog = ctx.services.catalog
    course = await catalog.course(ctx.community, ctx.args["code"], include_hidden=True)
    current = await catalog.lesson(course, int(number))
    written = await catalog.write_lesson(
        ctx.community,
        ctx.member,
        course.code,
        current.position,
        title=title,
        body=body.strip(),
        unlock_days=current.unlock_days,
        file=file,
    )
    if written.lesson is None:
        return _drafted(written)
    return Reply.text(
        msg("Lesson {n} updated: {title}", n=written.lesson.position, title=written.lesson.title)
    )


def _drafted(written: LessonWrite) -> Reply:
    assert written.draft is not None
    return Reply.text(
        msg(
            "Saved as draft {id}: {title}. The owner approves it before learners see it.",
            id=written.draft.id,
            title=written.draft.title,
        )
    )


async def _history(ctx: Context) -> Reply:
    number = ctx.args["lesson"].strip()
    if not _is_number(number):
        raise InvalidInput(msg("Usage: {usage}", usage=HISTORY_USAGE))
    catalog = ctx.services.catalog
    course = await catalog.course(ctx.community, ctx.args["code"], include_hidden=True)
    found = await catalog.lesson(course, int(number))
    versions = await catalog.lesson_versions(ctx.community, ctx.member, found)
    builder = ReplyBuilder().bold(msg("Versions of lesson {n}: {title}", n=found.position, title=found.title))
    for version in versions:
        await _version_line(ctx, builder.line(), version)
    return (
        builder.line().text(msg("/lesson restore {code} VERSION brings one back.", code=course.code)).build()
    )


async def _version_line(ctx: Context, builder: ReplyBuilder, version: LessonVersion) -> None:
    author = (
        await ctx.services.members.get_member(version.author_member_id) if version.author_member_id else None
    )
    when = version.created_at.astimezone(ZoneInfo(ctx.community.timezone)).strftime("%Y-%m-%d %H:%M")
    builder.code(str(version.id)).text(f"  {when} · {author.display_name if author else '—'} · ")
    builder.text(STATES.get(version.status, STATES[PUBLISHED])).text(f" · {version.title}")
    if version.note:
        builder.text(f" ({version.note})")


async def _restore(ctx: Context) -> Reply:
    number = ctx.args["lesson"].strip()
    if not _is_number(number):
        raise InvalidInput(msg("Usage: {usage}", usage=HISTORY_USAGE))
    written = await ctx.services.catalog.restore_version(ctx.community, ctx.member, int(number))
    if written.lesson is None:
        return _drafted(written)
    return Reply.text(
        msg(
            "Lesson {n} restored from version {id}: {title}",
            n=written.lesson.position,
            id=int(number),
            title=written.lesson.title,
        )
    )


@router.command(
    "drafts",
    aliases=("草稿",),
    help=msg("Lesson drafts waiting for review; the owner approves or rejects them"),
    params=(Word("action", optional=True, max_length=10), Word("id", optional=True, max_length=18)),
)
async def drafts(ctx: Context) -> Reply:
    catalog = ctx.services.catalog
    action = (ctx.args["action"] or "").lower()
    if not action:
        waiting = await catalog.drafts(ctx.community, ctx.member)
        if not waiting:
            return Reply.text(msg("No drafts wait for review."))
        builder = ReplyBuilder().bold(msg("Drafts waiting for review:"))
        for draft in waiting:
            course = await catalog.course_by_id(draft.course_id)
            await _version_line(ctx, builder.line(), draft)
            builder.text(f" · {course.code}")
        return (
            builder.line()
            .text(msg("/drafts approve ID publishes one; /drafts reject ID turns it down."))
            .build()
        )
    number = ctx.args["id"] or ""
    if action not in ("approve", "reject") or not _is_number(number, digits=18):
        raise InvalidInput(msg("Usage: {usage}", usage=DRAFTS_USAGE))
    if action == "approve":
        published = await catalog.approve_draft(ctx.community, ctx.member, int(number))
        return Reply.text(
            msg(
                "Draft {id} is published: lesson {n}, {title}.",
                id=int(number),
                n=published.position,
                title=published.title,
            )
        )
    rejected = await catalog.reject_draft(ctx.community, ctx.member, int(number))
    assert rejected.status != DRAFT
    return Reply.text(msg("Draft {id} rejected: {title}.", id=rejected.id, title=rejected.title))


def _is_number(text: str, digits: int = 4) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= digits
