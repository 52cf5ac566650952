"""Running a console session on a terminal (line editing, history) or on piped input."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from bot.adapters.console.session import ConsoleError, ConsoleSession
from bot.app import App
from bot.config import Config
from bot.demo import GUIDE, seed_demo
from core.clock import OffsetClock
from core.storage.database import Database
from core.storage.migrate import upgrade


def run_console(config: Config, *, member: str | None, seed: bool) -> int:
    """Run until EOF or :quit. With ``seed``, migrate and seed the demo first."""
    interactive = sys.stdin.isatty()
    with asyncio.Runner() as runner:
        if seed:
            runner.run(_migrate(config))
        clock = OffsetClock()
        app = runner.run(App.open(config, clock=clock))
        try:
            if seed:
                runner.run(seed_demo(app, config.community))
            try:
                session = runner.run(
                    ConsoleSession.open(
                        app,
                        clock,
                        community=config.community,
                        locale=config.default_locale,
                        write=_write,
                        member=member or "guest",
                    )
                )
            except ConsoleError as error:
                print(f"studyhall: {error}", file=sys.stderr)
                return 2
            if interactive:
                _interactive(runner, session, config.data_dir / "console_history", seed)
            else:
                for line in sys.stdin:
                    runner.run(session.handle_line(line))
                    if session.finished:
                        break
        finally:
            runner.run(app.close())
    return 0


def _write(text: str) -> None:
    print(text, flush=True)


async def _migrate(config: Config) -> None:
    db = Database(config.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def _interactive(runner: asyncio.Runner, session: ConsoleSession, history: Path, guide: bool) -> None:
    try:
        import readline
    except ImportError:  # not on every platform; input() still works
        readline = None  # type: ignore[assignment]
    if readline is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        readline.set_history_length(1000)
    print(
        f"studyhall console — community {session.community}. Type :help for console commands, :quit to leave."
    )
    if guide:
        for line in GUIDE:
            print(line)
    try:
        while not session.finished:
            try:
                line = input(session.prompt)
            except EOFError:
                print()
                break
            except KeyboardInterrupt:
                print()
                continue
            runner.run(session.handle_line(line))
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)
