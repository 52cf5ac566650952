"""bot/cli.py: the studyhall command, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """\
/help
:as Mei creator
:as Ana
:in lounge
hello from the lounge
/points
/checkin
:as Sam moderator
/award @Ana 25 helped a classmate
:as Ana
/history 3
/top
:dm
/lang zh
/whoami
:as Mei
/role @Ana moderator great answers
/role @Ghost moderator
:clock +3d
:bogus
/帮助
:quit
/help
"""


def studyhall(
    args: list[str], tmp_path: Path, *, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STUDYHALL_")}
    base.update({"STUDYHALL_DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"})
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=base,
    )


def test_console_session_end_to_end(db_url: str, tmp_path: Path) -> None:
    result = studyhall(["console", "--db", db_url, "--community", "clihall"], tmp_path, stdin=SCRIPT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "bot> Commands you can use here:"
    assert "(you are Mei, creator, in dm)" in lines
    assert "(in group chat lounge)" in lines
    # Points: a qualifying group message, a check-in and a moderator's award.
    assert "bot> Points: 1" in lines
    assert "bot> Checked in: +5 points." in lines
    assert "bot→Ana> Sam gave you 25 points in clihall: helped a classmate" in lines
    assert any(line.startswith("bot> #") and "+25" in line and "helped a classmate" in line for line in lines)
    assert "bot> 1. Ana — 31 points ◀" in lines
    assert "bot> 语言已切换为中文。" in lines
    assert "bot> 角色：学员" in lines
    assert "bot> Ana is now a moderator." in lines
    # Ana chose Chinese, so the private note to her is in Chinese.
    assert "bot→Ana> Mei 已将你在 clihall 的角色设为版主。" in lines
    assert "bot> No member called @Ghost here." in lines
    assert any(line.startswith("(sandbox time ") for line in lines)
    assert "error: unknown meta line :bogus; try :help" in lines
    assert lines[-1].startswith("bot> Send /help COMMAND")  # nothing after :quit
    assert "Traceback" not in result.stdout + result.stderr


SHOP_SCRIPT = """\
:as Mei creator
/course add py101 19.99 USD Python for data analysis
/lesson add py101 Setup | Install Python 3.12 and pandas.
/coupon add spring15 15%
/mall add mug 30 reward Studyhall mug stock=1 | We post it to you
:as Ana
/help
:as Mei
/award @Ana 50 first project
:as Ana
/courses
/course py101
/buy py101 SPRING15
:pay
/learn py101
/mall
/redeem mug
/points
:as Mei
/refund 1
:as Ana
/orders
:quit
"""


def test_console_shop_end_to_end(db_url: str, tmp_path: Path) -> None:
    """Browse, buy with a coupon, pay, receive the materials, learn, redeem, be refunded."""
    result = studyhall(["console", "--db", db_url, "--community", "shophall"], tmp_path, stdin=SHOP_SCRIPT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        "bot> py101  Python for data analysis · $19.99",
        "bot> Coupon applied: $2.99 off $19.99.",
        "bot> Order #1: Python for data analysis, $17.00. It stays open for 60 minutes.",
        "(sandbox payment completed)",
        "bot> It is yours now: /learn py101 opens the first lesson.",
        "bot> Lesson 1 of 1: Setup",
        "bot> You redeemed Studyhall mug for 30 points.",
        "bot> How you get it: We post it to you",
        "bot> Points: 37",  # 50 awarded + 17 for the purchase - 30 for the mug
        "bot> Refunded $17.00 of order #1.",
        "bot> Purchase points taken back: 17.",
        "bot→Ana> You were refunded $17.00 for order #1: Python for data analysis.",
        "bot> #1 Python for data analysis · $17.00 · refunded",
    ):
        assert expected in lines, expected
    assert "Traceback" not in result.stdout + result.stderr


def test_console_referral_funnel_end_to_end(db_url: str, tmp_path: Path) -> None:
    """Share a link; a newcomer starts with it, takes part and buys; the hold passes; the
    creator pays the commission out. Two runs: the first learns Ana's code."""
    args = ["console", "--db", db_url, "--community", "refhall"]
    setup = ":as Mei creator\n/course add py101 19.99 USD Python\n/commission set py101 10%\n:as Ana\n/ref\n"
    first = studyhall(args, tmp_path, stdin=setup)
    assert first.returncode == 0, first.stderr
    [link] = [line.split(": ", 1)[1] for line in first.stdout.splitlines() if "invitation link" in line]
    funnel = f":as Ben\n{link}\n/checkin\n/buy py101\n:pay\n:clock +15d\n:as Mei\n/payouts\n"
    funnel += "/payouts pay @Ana bank-42\n:as Ana\n/commissions\n/ref\n"
    result = studyhall(args, tmp_path, stdin=funnel)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        "bot> Ana invited you. +10 welcome points.",
        "bot→Ana> Ben, whom you invited, has joined in.",
        "bot→Ana> A commission of $1.99 is now available to you (/commissions).",
        "bot> Ana: $1.99 available, $0.00 held",
        "bot> Recorded: Ana was paid $1.99.",
        "bot> Commissions: $1.99 earned ($0.00 available, $0.00 pending, $1.99 paid)",
        "bot> Invited 1 · took part 1 · first purchases 1",
    ):
        assert expected in lines, (expected, lines)
    # The sandbox clock starts at the real time: the date is today's plus the 14-day hold.
    earned = "bot→Ana> You earned a commission of $1.99 on Ben's order; it is available from "
    assert any(line.startswith(earned) for line in lines)
    assert "Traceback" not in result.stdout + result.stderr


def test_unmigrated_database_is_refused_with_a_hint(empty_db_url: str, tmp_path: Path) -> None:
    result = studyhall(["console", "--db", empty_db_url], tmp_path, stdin="/help\n")
    assert result.returncode == 2
    assert "Run: studyhall migrate" in result.stderr
    assert result.stdout == ""


def test_migrate_then_console(empty_db_url: str, tmp_path: Path) -> None:
    migrated = studyhall(["migrate", "--db", empty_db_url], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout
    again = studyhall(["migrate", "--db", empty_db_url], tmp_path)
    assert again.returncode == 0
    result = studyhall(["console", "--db", empty_db_url], tmp_path, stdin="/whoami\n")
    assert result.returncode == 0 and "bot> guest" in result.stdout


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = studyhall(["console"], tmp_path, env={"STUDYHALL_TIMEZONE": "Mars/Olympus"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "STUDYHALL_TIMEZONE" in result.stderr and "IANA time zone" in result.stderr
    secret = "hunter2-very-secret"
    result = studyhall(
        ["console"], tmp_path, env={"STUDYHALL_ADAPTERS": "telegram", "TELEGRAM_WEBHOOK_SECRET": secret}
    )
    assert result.returncode == 2 and "TELEGRAM_TOKEN" in result.stderr and secret not in result.stderr


def test_demo_seeds_once_and_starts_as_ana(tmp_path: Path) -> None:
    from tests.telegram_peer import free_port

    db = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    port = {"STUDYHALL_HTTP_PORT": str(free_port())}  # parallel runs: not everyone on 8080
    stdin = "/whoami\n:as Mei\n/whoami\n/dashboard\n"
    first = studyhall(["demo", "--db", db], tmp_path, stdin=stdin, env=port)
    assert first.returncode == 0, first.stderr
    assert "bot> Ana" in first.stdout and "bot> Role: learner" in first.stdout
    assert "bot> 角色：创作者（所有者）" in first.stdout  # Mei reads Chinese
    where = f"http://127.0.0.1:{port['STUDYHALL_HTTP_PORT']}"
    assert f"Dashboard: type :as Mei, then /dashboard, and open the link it sends (http on {where})" in (
        first.stdout
    )
    assert f"Course page, as search engines and shared links open it: {where}/c/py101" in first.stdout
    assert f"bot> 打开后台：{where}/dashboard/login/" in first.stdout
    key = (tmp_path / "data" / "secret_key").read_text().strip()
    log = (tmp_path / "data" / "studyhall.log").read_text()
    assert key not in first.stdout + first.stderr + log
    second = studyhall(["demo", "--db", db], tmp_path, stdin=":as Sam\n/whoami\n", env=port)
    assert second.returncode == 0, second.stderr
    assert "bot> Role: moderator" in second.stdout


def test_demo_serves_the_link_it_sends_while_the_console_waits(tmp_path: Path) -> None:
    import re

    import httpx

    from tests.telegram_peer import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYHALL_")}
    env.update(
        STUDYHALL_DATA_DIR=str(tmp_path / "data"),
        STUDYHALL_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        STUDYHALL_HTTP_PORT=str(port),
        PYTHONIOENCODING="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(":as Mei\n/dashboard\n")
        process.stdin.flush()
        link = None
        for line in process.stdout:  # the console waits for more input meanwhile
            if found := re.search(r"(http://\S+/dashboard/login/\S+)", line):
                link = found.group(1)
                break
        assert link and link.startswith(f"http://127.0.0.1:{port}/dashboard/login/")
        with httpx.Client(trust_env=False, timeout=30) as browser:
            signed_in = browser.get(link, follow_redirects=True)
            assert signed_in.status_code == 200 and "概览" in signed_in.text  # Mei reads Chinese
            assert browser.get(link).status_code == 403  # used
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_discord_invite_url_from_the_token(tmp_path: Path) -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GxYz12.not-a-real-secret"
    result = studyhall(["discord", "invite-url"], tmp_path, env={"DISCORD_TOKEN": token})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "https://discord.com/oauth2/authorize?client_id=123456789012345678"
        "&scope=bot+applications.commands&permissions=275146460160"
    )
    assert "Server Members Intent, Message Content Intent" in result.stdout
    assert token not in result.stdout + result.stderr


def test_discord_invite_url_needs_an_application_id(tmp_path: Path) -> None:
    result = studyhall(["discord", "invite-url"], tmp_path, env={"DISCORD_TOKEN": ""})
    assert result.returncode == 2
    assert "--client-id" in result.stderr
    given = studyhall(["discord", "invite-url", "--client-id", "42"], tmp_path, env={"DISCORD_TOKEN": ""})
    assert given.returncode == 0 and "client_id=42&" in given.stdout


async def test_wechat_menu_publishes_the_default_menu(tmp_path: Path) -> None:
    import asyncio

    from tests.wechat_peer import APP_ID, APP_SECRET, TOKEN, FakeWeChat, running_wechat

    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDYHALL_", "WECHAT_"))}
        env.update(
            STUDYHALL_DATA_DIR=str(tmp_path / "data"),
            WECHAT_APP_ID=APP_ID,
            WECHAT_APP_SECRET=APP_SECRET,
            WECHAT_TOKEN=TOKEN,
            WECHAT_API_BASE=base,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "wechat",
            "menu",
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "menu published: 3 groups" in out.decode()
    [menu] = [body for _, path, _, body in fake.calls if path.endswith("menu/create")]
    assert [group["name"] for group in menu["button"]] == ["学习", "积分", "更多"]
    assert APP_SECRET not in out.decode() + err.decode()


def test_wechat_menu_print_and_missing_settings(tmp_path: Path) -> None:
    printed = studyhall(["wechat", "menu", "--print"], tmp_path)
    assert printed.returncode == 0 and '"key": "cmd:/checkin"' in printed.stdout
    refused = studyhall(["wechat", "menu"], tmp_path)
    assert refused.returncode == 2 and "WECHAT_APP_ID" in refused.stderr


def test_jobs_list_and_run_one(db_url: str, tmp_path: Path) -> None:
    listed = studyhall(["jobs", "--db", db_url, "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines() if line and not line.startswith(" ")]
    assert {"analytics", "orders", "subscriptions", "paid_chats", "referrals", "qa"} <= set(names)
    ran = studyhall(["jobs", "--db", db_url, "run", "analytics"], tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "studyhall: job analytics done" in ran.stdout
    unknown = studyhall(["jobs", "--db", db_url, "run", "nope"], tmp_path)
    assert unknown.returncode == 2 and "no job nope" in unknown.stderr


def test_report_writes_one_html_file(db_url: str, tmp_path: Path) -> None:
    setup = ":as Mei creator\n/help\n"
    studyhall(["console", "--db", db_url, "--community", "rephall"], tmp_path, stdin=setup)
    out = tmp_path / "report.html"
    result = studyhall(["report", "--db", db_url, "--community", "rephall", "--html", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<h1>rephall</h1>" in page
    assert "data:image/png;base64," in page
    missing = studyhall(["report", "--db", db_url, "--community", "nowhere", "--html", str(out)], tmp_path)
    assert missing.returncode == 2 and "no community nowhere" in missing.stderr


# -- a database that cannot be used: one line, exit status 2 -----------------------------------

DB_PASSWORD = "hunter2-db-password"


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert DB_PASSWORD not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_unreachable_postgresql_is_one_line_for_every_command(tmp_path: Path) -> None:
    from tests.telegram_peer import free_port

    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://postgres:{DB_PASSWORD}@127.0.0.1:{port}/nope"
    # `run` needs an adapter to get as far as the database.
    adapter = {"TELEGRAM_TOKEN": "123:tok", "TELEGRAM_API_BASE": f"http://127.0.0.1:{port}"}
    for args in (
        ["migrate"],
        ["console"],
        ["demo"],
        ["run"],
        ["jobs", "list"],
        ["report", "--html", str(tmp_path / "r.html")],
    ):
        result = studyhall(args, tmp_path, env={"STUDYHALL_DATABASE_URL": url, **adapter})
        line = _one_line_error(result)
        assert line.startswith(
            f"studyhall: cannot connect to PostgreSQL at 127.0.0.1:{port} (database nope): connection refused"
        ), (args, line)
        assert "check that PostgreSQL is running there" in line


async def test_a_refused_database_password_is_one_line(tmp_path: Path) -> None:
    import asyncio

    from tests.postgres_peer import refusing_password

    async with refusing_password() as port:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYHALL_")}
        env["STUDYHALL_DATA_DIR"] = str(tmp_path / "data")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "migrate",
            "--db",
            f"postgresql+asyncpg://ana:{DB_PASSWORD}@127.0.0.1:{port}/shop",
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    result = subprocess.CompletedProcess([], process.returncode or 0, out.decode(), err.decode())
    assert _one_line_error(result) == (
        f"studyhall: PostgreSQL at 127.0.0.1:{port} refused the password of user ana: "
        "check the password in the database URL (STUDYHALL_DATABASE_URL or --db)"
    )


@pytest.mark.skipif(not os.environ.get("STUDYHALL_TEST_PG"), reason="needs STUDYHALL_TEST_PG")
def test_migrate_to_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    import uuid

    from sqlalchemy.engine import make_url

    url = make_url(os.environ["STUDYHALL_TEST_PG"])
    name = f"nosuchdb_{uuid.uuid4().hex[:8]}"
    missing = url.set(database=name).render_as_string(hide_password=False)
    where = f"{url.host}:{url.port or 5432}"
    line = _one_line_error(studyhall(["migrate", "--db", missing], tmp_path))
    assert (
        line == f"studyhall: database {name} does not exist on {where}: create it first, e.g. createdb {name}"
    )
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    no_role = url.set(username=role).render_as_string(hide_password=False)
    line = _one_line_error(studyhall(["console", "--db", no_role], tmp_path))
    assert line.startswith(f"studyhall: role {role} does not exist on {where}")


def test_an_unusable_sqlite_path_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    line = _one_line_error(studyhall(["migrate", "--db", f"sqlite+aiosqlite:///{a_file}/x.db"], tmp_path))
    assert line.startswith(
        f"studyhall: cannot create the folder {a_file} for the SQLite database {a_file}/x.db"
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    line = _one_line_error(studyhall(["console", "--db", f"sqlite+aiosqlite:///{folder}"], tmp_path))
    assert line.startswith(f"studyhall: cannot open the SQLite database {folder}: check that it names a file")


def test_a_log_file_that_cannot_be_written_is_one_line(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "data" / "studyhall.log").mkdir(parents=True)  # a folder where the log file goes
    result = studyhall(["console", "--db", db_url], tmp_path, stdin=":quit\n")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"studyhall: cannot write the log file {tmp_path / 'data' / 'studyhall.log'}: Is a directory;"
        " check that folder, or choose another data folder with STUDYHALL_DATA_DIR"
    ]


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = studyhall(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"studyhall {version('studyhall')}"


def test_config_show_gives_each_value_and_its_source_with_secrets_masked(tmp_path: Path) -> None:
    token, key, password = "123456:show-token-Qw9", "s" * 40, "pw-show-Zx7"
    (tmp_path / "studyhall.toml").write_text(
        f'community = "from-file"\ntimezone = "Asia/Shanghai"\n[log]\nformat = "json"\n'
        f'[telegram]\ntoken = "{token}"\n',
        encoding="utf-8",
    )
    env = {
        "STUDYHALL_COMMUNITY": "from-env",
        "STUDYHALL_SECRET_KEY": key,
        "STUDYHALL_DATABASE_URL": f"postgresql+asyncpg://hall:{password}@db.internal/hall",
    }
    result = studyhall(["config", "show"], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[3:] if line.strip()}
    head = result.stdout.splitlines()[:2]
    assert head == ["configuration file: studyhall.toml (from default)", "adapters on: telegram"]
    assert lines["community"].split()[1:] == ["from-env", "[environment;", "STUDYHALL_COMMUNITY]"]
    assert lines["timezone"].split()[1:3] == ["Asia/Shanghai", "[file;"]
    assert lines["locale"].split()[1:3] == ["en", "[default;"]
    assert lines["log.format"].split()[1:3] == ["json", "[file;"]
    assert lines["telegram.token"].split()[1:3] == ["***", "[file;"]
    assert lines["secret_key"].split()[1:3] == ["***", "[environment;"]
    assert lines["database_url"].split()[1] == "postgresql+asyncpg://hall:***@db.internal/hall"
    assert lines["discord.token"].split()[1:3] == ["(unset)", "[default;"]
    for secret in (token, key, password):
        assert secret not in result.stdout + result.stderr


def test_config_without_show_prints_its_help(tmp_path: Path) -> None:
    result = studyhall(["config"], tmp_path)
    assert result.returncode == 0 and "show" in result.stdout
