"""Running a console session on a terminal (line editing, history) or on piped input."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path

from bot.adapters.console.session import ConsoleError, ConsoleSession
from bot.app import App
from bot.config import Config
from bot.demo import COURSE_PAGE_LINE, DASHBOARD_LINE, GUIDE, seed_demo, with_secret_key
from bot.http import HttpServer
from bot.web import install_web
from core.clock import OffsetClock
from core.storage.database import Database
from core.storage.migrate import upgrade


def run_console(config: Config, *, member: str | None, seed: bool) -> int:
    """Run until EOF or :quit. With ``seed``, migrate and seed the demo first."""
    interactive = sys.stdin.isatty()
    if seed:
        config = with_secret_key(config)
    http: HttpServer | None = None
    with asyncio.Runner() as runner:
        if seed:
            runner.run(_migrate(config))
        clock = OffsetClock()
        app = runner.run(App.open(config, clock=clock))
        try:
            if seed:
                runner.run(seed_demo(app, config.community))
                http = runner.run(_serve_dashboard(app))
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
                _interactive(
                    runner, session, config.data_dir / "console_history", seed, serving=http is not None
                )
            elif http is not None:  # piped, with the dashboard: serve it between lines too
                while not session.finished and (line := _serve_until_line(runner, None)) is not None:
                    runner.run(session.handle_line(line))
            else:
                for line in sys.stdin:
                    runner.run(session.handle_line(line))
                    if session.finished:
                        break
        finally:
            if http is not None:
                runner.run(http.stop())
            runner.run(app.close())
    return 0


async def _serve_dashboard(app: App) -> HttpServer | None:
    """The demo's HTTP app with the dashboard, in this process; None (and one line saying
    why) when its port is taken."""
    config = app.config
    http = HttpServer(config.http_host, config.http_port)
    install_web(app, http, sandbox=True)  # the console's :pay, on the order page
    try:
        await http.start()
    except OSError as error:
        await http.stop()
        app.services.web_sessions.disable()
        print(
            f"studyhall: no dashboard: cannot listen on {config.http_host}:{config.http_port} "
            f"({error.strerror or error}); set STUDYHALL_HTTP_PORT to a free port",
            flush=True,
        )
        return None
    print(DASHBOARD_LINE.format(where=config.base_url), flush=True)
    print(COURSE_PAGE_LINE.format(where=config.base_url), flush=True)
    return http


def _serve_until_line(runner: asyncio.Runner, prompt: str | None) -> str | None:
    """Serve the HTTP app until a line is typed (Ctrl-C ends the console here: the line being
    typed belongs to the reading thread)."""

    async def wait() -> str | None:
        return await _read_line(prompt)

    try:
        return runner.run(wait())
    except KeyboardInterrupt:
        return None


def _read_line(prompt: str | None) -> asyncio.Future[str | None]:
    """input() (piped: a plain readline, no prompt) on a daemon thread, so the event loop (the
    HTTP app) runs while the console waits for a line, and an exit never waits for one. None at
    end of input."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        line: str | None
        if prompt is None:
            line = sys.stdin.readline() or None
        else:
            try:
                line = input(prompt)
            except EOFError:
                line = None
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(line))

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return future


def _write(text: str) -> None:
    print(text, flush=True)


async def _migrate(config: Config) -> None:
    db = Database(config.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def _interactive(
    runner: asyncio.Runner, session: ConsoleSession, history: Path, guide: bool, *, serving: bool = False
) -> None:
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
            if serving:
                line = _serve_until_line(runner, session.prompt)
                if line is None:
                    print()
                    break
                runner.run(session.handle_line(line))
                continue
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
