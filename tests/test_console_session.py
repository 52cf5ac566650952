"""The console protocol, in process (the subprocess run is in test_cli.py)."""

from __future__ import annotations

from tests.conftest import ConsoleDriver


async def test_help_lists_commands_for_the_role(console: ConsoleDriver) -> None:
    out = await console.text("/help")
    assert "bot> Commands you can use here:" in out
    assert "/whoami" in out
    assert "/role" not in out
    out = await console.text(":as Mei creator", "/help")
    assert "/role — Make a member a learner or a moderator" in out
