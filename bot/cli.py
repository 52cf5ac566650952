"""The ``studyhall`` command line: migrate, console, demo, run, jobs, report, discord, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bot.config import Config, ConfigError, Secret, load_config
from bot.logs import RedactSecrets, configure_for
from bot.startup import StartupError
from core.storage.database import Database, safe_url
from core.storage.migrate import NotMigrated, upgrade
from core.storage.unavailable import DatabaseUnavailable


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if args.command == "config" and not getattr(args, "config_command", None):
        parser.parse_args(["config", "--help"])
    try:
        config = load_config(
            config_file=Path(args.config) if args.config else None,
            overrides={
                "database_url": getattr(args, "db", None),
                "community": getattr(args, "community", None),
                "locale": getattr(args, "locale", None),
            },
        )
    except ConfigError as error:
        if args.command == "doctor":  # its first line: the configuration is not valid
            from bot.doctor import config_failed, report

            print(report([config_failed(str(error))], [])[0])
            return 1
        print(f"studyhall: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        _prepare_data_dir(config)
        return int(args.run(config, args) or 0)
    except (NotMigrated, DatabaseUnavailable, StartupError) as error:
        # What the operator must fix before studyhall can start: one line, never a traceback
        # (nor a secret, whatever a library put in the text).
        print(f"studyhall: {RedactSecrets(config.secret_values()).redact(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studyhall", description="Bot platform for paid learning communities."
    )
    parser.add_argument("--config", help="path to studyhall.toml (default: ./studyhall.toml if present)")
    parser.add_argument("--version", action="version", version=f"studyhall {_version()}")
    commands = parser.add_subparsers(dest="command")

    commands.add_parser(
        "doctor", help="check the configuration, database, platform tokens, webhooks, fonts and disk"
    ).set_defaults(run=_run_doctor)
    config_show = commands.add_parser("config", help="the configuration: show it")
    config_commands = config_show.add_subparsers(dest="config_command")
    config_commands.add_parser(
        "show", help="every key's effective value and its source (default, file, environment)"
    ).set_defaults(run=_run_config_show)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--db", help="database URL (default from configuration)")
    migrate.set_defaults(run=_run_migrate)

    run = commands.add_parser(
        "run", help="run every configured adapter (Telegram, Discord, WeChat) until stopped"
    )
    run.add_argument("--db", help="database URL (default from configuration)")
    run.add_argument("--community", help="community name (default from configuration)")
    run.set_defaults(run=_run_adapters)

    discord = commands.add_parser("discord", help="Discord setup: the invite URL")
    discord_commands = discord.add_subparsers(dest="discord_command", required=True)
    invite = discord_commands.add_parser(
        "invite-url", help="print the URL that adds the bot to a server with the permissions it needs"
    )
    invite.add_argument(
        "--client-id", help="the application id (default: read from DISCORD_TOKEN)", default=None
    )
    invite.set_defaults(run=_run_discord_invite_url)

    wechat = commands.add_parser("wechat", help="WeChat Official Account setup: the menu")
    wechat_commands = wechat.add_subparsers(dest="wechat_command", required=True)
    menu = wechat_commands.add_parser(
        "menu", help="publish the default menu (built from the commands) to the Official Account"
    )
    menu.add_argument("--print", dest="print_only", action="store_true", help="print it; publish nothing")
    menu.set_defaults(run=_run_wechat_menu)

    jobs = commands.add_parser(
        "jobs", help="the scheduled jobs: list them, run one now, or run the scheduler"
    )
    jobs.add_argument("--db", help="database URL (default from configuration)")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_commands.add_parser("list", help="every job, its schedule and its last run").set_defaults(
        run=_run_jobs_list
    )
    run_one = jobs_commands.add_parser("run", help="run one job now (a progress bar for long ones)")
    run_one.add_argument("name")
    run_one.set_defaults(run=_run_job)
    jobs_commands.add_parser("serve", help="run the scheduler alone, without adapters").set_defaults(
        run=_run_jobs_serve
    )

    report = commands.add_parser("report", help="write a community's analytics as one HTML file")
    report.add_argument("--db", help="database URL (default from configuration)")
    report.add_argument("--community", help="community name (default from configuration)")
    report.add_argument("--html", required=True, help="the file to write")
    report.add_argument("--locale", choices=("en", "zh_CN", "zh"), default="en", help="the report's language")
    report.set_defaults(run=_run_report)

    backup = commands.add_parser(
        "backup", help="copy the database to FILE (safe while studyhall runs), with a manifest FILE.json"
    )
    backup.add_argument("--db", help="database URL (default from configuration)")
    backup.add_argument("file", help="the backup file to write (replaced only once the new one is checked)")
    backup.set_defaults(run=_run_backup)

    restore = commands.add_parser(
        "restore", help="replace the database with the backup in FILE (stop studyhall first)"
    )
    restore.add_argument("--db", help="database URL (default from configuration)")
    restore.add_argument("file", help="a file written by studyhall backup")
    restore.add_argument("--force", action="store_true", help="overwrite a database that is not empty")
    restore.set_defaults(run=_run_restore)

    for name, runner, text in (
        ("console", _run_console, "chat with the bot in this terminal"),
        ("demo", _run_demo, "migrate, seed the demo community if needed, and open the console"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--db", help="database URL (default from configuration)")
        sub.add_argument("--community", help="community name (default from configuration)")
        sub.add_argument("--locale", choices=("en", "zh_CN", "zh"), help="language for new console members")
        sub.add_argument("--as", dest="member", help="start as this member")
        sub.set_defaults(run=runner)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("studyhall")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _run_doctor(config: Config, args: argparse.Namespace) -> int:
    from bot.config import config_file_used
    from bot.doctor import doctor

    path, _named_by = config_file_used(Path(args.config) if args.config else None, os.environ)
    return doctor(config, str(path) if path else None)


def _run_config_show(config: Config, args: argparse.Namespace) -> int:
    from bot.config_show import show

    print(show(config, Path(args.config) if args.config else None, os.environ))
    return 0


def _prepare_data_dir(config: Config) -> None:
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(
            f"cannot create the data folder {config.data_dir}: {error.strerror}; "
            "choose another with STUDYHALL_DATA_DIR"
        ) from None
    if config.database_url.startswith("sqlite"):
        database = make_url(config.database_url).database
        if database and database != ":memory:":
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StartupError(
                    f"cannot create the folder {folder} for the SQLite database {database}: "
                    f"{error.strerror}; check the path in the database URL (STUDYHALL_DATABASE_URL or --db)"
                ) from None


def _run_migrate(config: Config, args: argparse.Namespace) -> int:
    configure_for(config, stderr=False)

    async def migrate() -> None:
        db = Database(config.database_url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(migrate())
    print(f"studyhall: database at {safe_url(config.database_url)} is up to date")
    return 0


def _run_backup(config: Config, args: argparse.Namespace) -> int:
    from core.storage.backup import BackupError, backup_sqlite, describe
    from core.storage.pg_backup import backup_postgresql

    configure_for(config, stderr=False)
    target = Path(args.file).expanduser()
    url = config.database_url
    try:
        if target.is_dir():
            raise BackupError(f"{target} is a folder; give the backup file's name")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)  # a dated folder from cron
        except OSError as error:
            raise BackupError(f"cannot create the folder {target.parent}: {error.strerror}") from None
        if _backend(url) == "sqlite":
            manifest = backup_sqlite(_sqlite_path(url), target, safe_url(url))
        else:
            manifest = asyncio.run(backup_postgresql(url, target))
    except BackupError as error:
        print(f"studyhall: {RedactSecrets(config.secret_values()).redact(str(error))}", file=sys.stderr)
        return 1
    print(
        f"studyhall: backed up {safe_url(url)} to {target} ({manifest.bytes} bytes, "
        f"{describe(manifest.summary)}); manifest {target.name}.json"
    )
    return 0


def _run_restore(config: Config, args: argparse.Namespace) -> int:
    from core.storage.backup import BackupError, describe, file_kind, restore_sqlite
    from core.storage.pg_backup import restore_postgresql

    configure_for(config, stderr=False)
    source = Path(args.file).expanduser()
    url = config.database_url
    try:
        kind, backend = file_kind(source), _backend(url)
        if kind != backend:
            raise BackupError(f"{source} is a {kind} backup; the database at {safe_url(url)} is {backend}")
        if backend == "sqlite":
            restored = restore_sqlite(source, _sqlite_path(url), force=args.force)
        else:
            restored = asyncio.run(restore_postgresql(source, url, force=args.force))
    except BackupError as error:
        print(f"studyhall: {RedactSecrets(config.secret_values()).redact(str(error))}", file=sys.stderr)
        return 1
    print(
        f"studyhall: restored {source} into {safe_url(url)} ({describe(restored.summary)}); "
        f"checked against {restored.verified_against}"
    )
    if restored.needs_migration:
        _run_migrate(config, args)  # an older backup: brought to this code's head, as migrate would
    return 0


def _backend(url: str) -> str:
    from core.storage.backup import BackupError

    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"backups cover SQLite and PostgreSQL, not {backend}")
    return backend


def _sqlite_path(url: str) -> Path:
    from core.storage.backup import BackupError

    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore into")
    return Path(database).expanduser()


def _run_adapters(config: Config, args: argparse.Namespace) -> int:
    from bot.run import run

    configure_for(config, stderr=True)
    return asyncio.run(run(config))


def _run_discord_invite_url(config: Config, args: argparse.Namespace) -> int:
    from bot.adapters.discord.invite import (
        PERMISSIONS,
        PRIVILEGED_INTENTS,
        application_id_from_token,
        invite_url,
    )

    client_id = args.client_id
    token = config.adapter_settings.get("discord", {}).get("token")
    if client_id is None and isinstance(token, Secret):
        client_id = application_id_from_token(token.reveal())
    if not client_id or not str(client_id).isdigit():
        print(
            "studyhall: give --client-id (Developer Portal → your application → Application ID),"
            " or set DISCORD_TOKEN",
            file=sys.stderr,
        )
        return 2
    print(invite_url(str(client_id)))
    print(f"Permissions {PERMISSIONS.value}: View Channels, Send Messages (also in threads), Embed Links,")
    print("  Attach Files, Read Message History, Manage Roles (paid roles).")
    print(f"In the Developer Portal → Bot, turn on: {', '.join(PRIVILEGED_INTENTS)}.")
    print("Then put the bot's role above every paid role (Server Settings → Roles).")
    return 0


def _run_wechat_menu(config: Config, args: argparse.Namespace) -> int:
    import json

    from bot.adapters.wechat.api import WeChatApiError
    from bot.adapters.wechat.menu import default_menu
    from bot.handlers import build_router
    from bot.wechat_one_off import one_off_wechat_api

    menu = default_menu(build_router())
    if args.print_only:
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        return 0
    settings = config.adapter_settings.get("wechat")
    if not settings:
        print("studyhall: set WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_TOKEN first", file=sys.stderr)
        return 2
    configure_for(config, stderr=False)

    async def publish() -> None:
        # With the running service's access token (bot/wechat_one_off.py).
        async with one_off_wechat_api(config) as api:
            await api.create_menu(menu)

    try:
        asyncio.run(publish())
    except WeChatApiError as error:
        print(f"studyhall: WeChat refused the menu: {error}", file=sys.stderr)
        return 1
    items = sum(len(group["sub_button"]) for group in menu["button"])
    print(f"studyhall: menu published: {len(menu['button'])} groups, {items} commands")
    return 0


def _run_console(config: Config, args: argparse.Namespace) -> int:
    from bot.adapters.console.repl import run_console

    configure_for(config, stderr=False)
    return run_console(config, member=args.member, seed=False)


def _run_demo(config: Config, args: argparse.Namespace) -> int:
    from bot.adapters.console.repl import run_console

    configure_for(config, stderr=False)
    return run_console(config, member=args.member or "Ana", seed=True)


def _with_app(config: Config, work: Any) -> int:
    from bot.app import App

    configure_for(config, stderr=False)

    async def go() -> int:
        app = await App.open(config)
        try:
            return int(await work(app))
        finally:
            await app.close()

    return asyncio.run(go())


def _run_jobs_list(config: Config, args: argparse.Namespace) -> int:
    async def work(app: Any) -> int:
        from core.storage.state_tables import job_runs

        async with app.db.read() as conn:
            runs = {r.name: r for r in await conn.execute(job_runs.select())}
        for spec in app.jobs.jobs.values():
            run = runs.get(spec.name)
            last = f"{run.last_run_at:%Y-%m-%d %H:%M} {run.last_status}" if run else "never"
            print(f"{spec.name:<20} {spec.trigger!s:<45} last: {last}")
            if spec.description:
                print(f"{'':<20} {spec.description}")
        return 0

    return _with_app(config, work)


def _run_job(config: Config, args: argparse.Namespace) -> int:
    async def work(app: Any) -> int:
        if args.name not in app.jobs.jobs:
            print(f"studyhall: no job {args.name}; `studyhall jobs list` shows them", file=sys.stderr)
            return 2

        def progress(done: int, total: int) -> None:
            width = 30
            filled = width * done // max(total, 1)
            print(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                end="",
                file=sys.stderr,
                flush=True,
            )
            if done == total:
                print(file=sys.stderr)

        ok = await app.job_runner.run_job(args.name, progress=progress)
        await app.send(await app.pending_notices())
        print(f"studyhall: job {args.name} {'done' if ok else 'failed (see data/studyhall.log)'}")
        return 0 if ok else 1

    return _with_app(config, work)


def _run_jobs_serve(config: Config, args: argparse.Namespace) -> int:
    """The scheduler without adapters (a separate jobs process); notes wait for the adapters.
    Its HTTP app serves /healthz, /readyz and /metrics only (its own job metrics)."""
    import signal

    from bot.health import install_health
    from bot.http import HttpServer
    from bot.scheduler import JobScheduler

    async def work(app: Any) -> int:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        scheduler = JobScheduler(app)
        http = HttpServer(config.http_host, config.http_port, app.metrics)
        install_health(app, http, leading=lambda: scheduler.leading)
        await http.start()
        scheduler.start()
        print(f"studyhall: scheduler running; health on {config.http_host}:{config.http_port}", flush=True)
        try:
            await stopping.wait()
        finally:
            await scheduler.stop()
            await http.stop()
        return 0

    return _with_app(config, work)


def _run_report(config: Config, args: argparse.Namespace) -> int:
    from bot.reports.html import html_report

    async def work(app: Any) -> int:
        community = await app.services.members.get_community(config.community)
        if community is None:
            print(f"studyhall: no community {config.community}", file=sys.stderr)
            return 2
        summary = await app.services.analytics.run(community)
        locale = "zh_CN" if args.locale in ("zh", "zh_CN") else "en"
        page = await asyncio.to_thread(html_report, community.name, summary, locale)  # matplotlib
        await asyncio.to_thread(Path(args.html).write_text, page, encoding="utf-8")
        print(f"studyhall: wrote {args.html}")
        return 0

    return _with_app(config, work)


if __name__ == "__main__":
    sys.exit(main())
