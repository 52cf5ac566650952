"""Creators' role management: /role @member learner|moderator."""

from __future__ import annotations

from core.commands.context import Context
from core.commands.params import Choice, MemberParam, Rest
from core.commands.router import CREATORS, Router
from core.i18n import msg
from core.members.models import Role
from core.replies import Reply

router = Router()


@router.command(
    "role",
    aliases=("角色",),
    roles=CREATORS,
    help=msg("Make a member a learner or a moderator"),
    params=(
        MemberParam("member", allow_self=False),
        Choice("role", choices=(Role.LEARNER.value, Role.MODERATOR.value)),
        Rest("reason", optional=True, max_length=300),
    ),
)
async def set_role(ctx: Context) -> list[Reply]:
    target, role = ctx.args["member"], Role(ctx.args["role"])
    if target.role is role:
        return [Reply.text(msg("{name} is already a {role}.", name=target.display_name, role=role.label))]
    updated = await ctx.services.members.change_role(
        ctx.community, ctx.member, target, role, reason=ctx.args["reason"] or ""
    )
    return [
        Reply.text(msg("{name} is now a {role}.", name=updated.display_name, role=role.label)),
        Reply.text(
            msg(
                "{actor} made you a {role} in {community}.",
                actor=ctx.member.display_name,
                role=role.label,
                community=ctx.community.name,
            ),
            to_member=updated.id,
        ),
    ]
