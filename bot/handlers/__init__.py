"""Platform-neutral command handlers. Each module has a Router; build_router merges them."""

from core.commands.router import Router


def build_router() -> Router:
    """A fresh router holding every handler module's commands."""
    from bot.handlers import (
        account,
        analytics,
        basics,
        channels,
        coupons,
        dashboard,
        delivery,
        feedback,
        lessons,
        mall,
        moderation,
        paid_chats,
        points,
        pushes,
        qa,
        recommend,
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
        recommend,
        channels,
        account,
        pushes,
        feedback,
        dashboard,
    )
    for module in modules:
        router.include(module.router)
    return router
