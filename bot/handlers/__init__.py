"""Platform-neutral command handlers. Each module has a Router; build_router merges them."""

from core.commands.router import Router


def build_router() -> Router:
    """A fresh router holding every handler module's commands."""
    from bot.handlers import (
        account,
        analytics,
        basics,
        coupons,
        dashboard,
        delivery,
        lessons,
        mall,
        moderation,
        paid_chats,
        points,
        pushes,
        qa,
        referrals,
        roles,
        rules,
        shop,
        subscriptions,
        wechat,
    )

    router = Router()
    modules = (
        basics,
        roles,
        points,
        moderation,
        rules,
        shop,
        lessons,
        coupons,
        mall,
        subscriptions,
        paid_chats,
        referrals,
        qa,
        delivery,
        wechat,
        analytics,
        account,
        pushes,
        dashboard,
    )
    for module in modules:
        router.include(module.router)
    return router
