"""bot/logs.py: secrets redacted from every log record, and the log file set-up."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.config import Config, Secret
from bot.logs import REDACTED, RedactSecrets, configure_logging
from core.clock import ManualClock
from core.tracing import mark_error, request_scope
from tests.web_fixtures import SECRET_KEY, web_world

TOKEN = "123456:tg-token-Zr7"
DB_PASSWORD = "pw-Xq81zLk"
NOISY = ("alembic", "sqlalchemy", "aiosqlite", "asyncio")


class _ListHandler(logging.Handler):
    """Formats records like a file handler would and keeps the lines."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, _ListHandler]]:
    logger = logging.getLogger("studyhall.test_logs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _ListHandler()
    handler.addFilter(RedactSecrets([TOKEN, DB_PASSWORD]))
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)
    logger.propagate = True


def test_secret_in_the_message_is_hidden(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    logger.info(f"connecting with token {TOKEN} now")
    assert handler.lines == [f"INFO connecting with token {REDACTED} now"]


def test_secret_in_the_arguments_is_hidden(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    logger.warning("url=%s token=%r", f"postgresql://u:{DB_PASSWORD}@h/db", TOKEN)
    assert handler.lines == [f"WARNING url=postgresql://u:{REDACTED}@h/db token='{REDACTED}'"]


def test_secret_in_a_traceback_is_hidden(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    try:
        raise RuntimeError(f"Unauthorized: bot{TOKEN}/getMe")
    except RuntimeError:
        logger.exception("polling failed")
    (line,) = handler.lines
    assert line.startswith("ERROR polling failed\nTraceback (most recent call last):")
    assert f"RuntimeError: Unauthorized: bot{REDACTED}/getMe" in line
    assert TOKEN not in line


def test_secret_in_a_chained_exception_is_hidden(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    try:
        try:
            raise ValueError(f"password {DB_PASSWORD} rejected")
        except ValueError as inner:
            raise RuntimeError("cannot connect") from inner
    except RuntimeError:
        logger.exception("startup")
    (line,) = handler.lines
    assert "ValueError: password *** rejected" in line
    assert "RuntimeError: cannot connect" in line
    assert DB_PASSWORD not in line


def test_every_occurrence_is_hidden(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    logger.info("%s %s", TOKEN, TOKEN + TOKEN)
    assert handler.lines == ["INFO *** ******"]


def test_longer_secret_containing_a_shorter_one_is_hidden_whole() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s", ("abcd-efgh-ijkl",), None)
    RedactSecrets(["abcd", "abcd-efgh-ijkl"]).filter(record)
    assert record.getMessage() == "key=***"


def test_secrets_shorter_than_four_characters_are_ignored() -> None:
    # Redacting "ab" would mangle ordinary words; such a secret is too weak to matter anyway.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "about a tab", (), None)
    assert RedactSecrets(["ab", ""]).filter(record)
    assert record.getMessage() == "about a tab"


def test_filter_never_drops_a_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (TOKEN,), None)
    assert RedactSecrets([TOKEN]).filter(record) is True
    assert record.getMessage() == REDACTED


def test_without_secrets_the_record_is_left_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%d", (5,), None)
    RedactSecrets([]).filter(record)
    assert (record.msg, record.args) == ("n=%d", (5,))


# -- configure_logging ----------------------------------------------------------------------


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy_levels = {name: logging.getLogger(name).level for name in NOISY}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, noisy_level in noisy_levels.items():
        logging.getLogger(name).setLevel(noisy_level)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


@pytest.mark.usefixtures("restore_root")
def test_configure_logging_writes_a_redacted_file(tmp_path: Path) -> None:
    log_file = tmp_path / "data" / "logs" / "studyhall.log"  # the folder does not exist yet
    configure_logging("INFO", [TOKEN, DB_PASSWORD], log_file, stderr=False)
    log = logging.getLogger("studyhall.somewhere")
    log.debug("debug detail %s", "hidden-by-level")
    log.info("telegram token %s", TOKEN)
    try:
        raise ConnectionError(f"auth failed for password {DB_PASSWORD}")
    except ConnectionError:
        log.exception("database down")
    _flush()
    text = log_file.read_text(encoding="utf-8")
    assert "INFO studyhall.somewhere: telegram token ***" in text
    assert "ERROR studyhall.somewhere: database down" in text
    assert "ConnectionError: auth failed for password ***" in text
    assert TOKEN not in text
    assert DB_PASSWORD not in text
    assert "hidden-by-level" not in text


@pytest.mark.usefixtures("restore_root")
def test_configure_logging_twice_does_not_duplicate_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "studyhall.log"
    configure_logging("INFO", [TOKEN], log_file, stderr=False)
    configure_logging("INFO", [TOKEN], log_file, stderr=False)
    logging.getLogger("studyhall.once").warning("only once")
    _flush()
    assert log_file.read_text(encoding="utf-8").count("only once") == 1


@pytest.mark.usefixtures("restore_root")
def test_configure_logging_to_stderr_is_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", [TOKEN], None, stderr=True)
    logging.getLogger("studyhall.err").debug("token is %s", TOKEN)
    _flush()
    err = capsys.readouterr().err
    assert "DEBUG studyhall.err: token is ***" in err
    assert TOKEN not in err


@pytest.mark.usefixtures("restore_root")
def test_configure_logging_quiets_library_loggers(tmp_path: Path) -> None:
    configure_logging("DEBUG", [], tmp_path / "a.log", stderr=False)
    assert logging.getLogger().level == logging.DEBUG
    for name in NOISY:
        assert logging.getLogger(name).level == logging.WARNING
    configure_logging("ERROR", [], tmp_path / "a.log", stderr=False)
    assert logging.getLogger("sqlalchemy").level == logging.ERROR


# -- formats, rotation, request ids ---------------------------------------------------------


@pytest.mark.usefixtures("restore_root")
def test_json_lines_carry_the_request_and_error_ids(tmp_path: Path) -> None:
    log_file = tmp_path / "studyhall.log"
    configure_logging("INFO", [TOKEN], log_file, stderr=False, log_format="json")
    log = logging.getLogger("studyhall.json")
    log.info("outside any request")
    with request_scope() as rid:
        log.info("handling, token %s", TOKEN)
        try:
            raise RuntimeError(f"bot{TOKEN}/getMe failed")
        except RuntimeError:
            shown = mark_error()
            log.exception("failed [error %s]", shown)
        log.info("after the failure")
    _flush()
    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert [line["message"] for line in lines] == [
        "outside any request",
        "handling, token ***",
        f"failed [error {rid}]",
        "after the failure",
    ]
    assert "request_id" not in lines[0]
    assert [line.get("request_id") for line in lines[1:]] == [rid, rid, rid]
    assert shown == rid  # the id a member is shown finds every line of their request
    assert [line.get("error_id") for line in lines[1:]] == [None, rid, rid]
    assert "RuntimeError: bot***/getMe failed" in lines[2]["traceback"]
    assert lines[2]["level"] == "ERROR" and lines[2]["logger"] == "studyhall.json"
    assert TOKEN not in log_file.read_text(encoding="utf-8")


@pytest.mark.usefixtures("restore_root")
def test_text_lines_carry_the_request_id(tmp_path: Path) -> None:
    log_file = tmp_path / "studyhall.log"
    configure_logging("INFO", [], log_file, stderr=False, log_format="text")
    log = logging.getLogger("studyhall.text")
    log.info("idle")
    with request_scope() as rid:
        with request_scope() as inner:  # an event inside a webhook's HTTP request: one id
            log.info("inside")
        mark_error()
        log.warning("failed")
    _flush()
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(" INFO studyhall.text: idle")
    assert inner == rid
    assert lines[1].endswith(f" INFO studyhall.text [req={rid}]: inside")
    assert lines[2].endswith(f" WARNING studyhall.text [req={rid} error={rid}]: failed")


def test_request_ids_are_new_per_scope_and_reset_after() -> None:
    with request_scope() as first:
        pass
    with request_scope() as second:
        pass
    assert first != second and len(first) == 8
    assert mark_error() != mark_error()  # outside a scope: a fresh id each time, nothing kept


@pytest.mark.usefixtures("restore_root")
def test_the_log_file_rotates_by_size_and_keeps_n_files(tmp_path: Path) -> None:
    log_file = tmp_path / "studyhall.log"
    configure_logging("INFO", [], log_file, stderr=False, max_bytes=2048, backups=2)
    log = logging.getLogger("studyhall.rotate")
    for n in range(200):
        log.info("line %03d %s", n, "x" * 40)
    _flush()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["studyhall.log", "studyhall.log.1", "studyhall.log.2"]
    assert all(p.stat().st_size <= 2048 for p in tmp_path.iterdir())
    assert "line 199" in log_file.read_text(encoding="utf-8")


def test_a_login_link_in_a_message_is_hidden() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "sent %s", ("https://h.test/dashboard/login/AbC_12-xyz",), None
    )
    RedactSecrets([]).filter(record)
    assert record.getMessage() == "sent https://h.test/dashboard/login/***"


# -- nothing secret in any line of a demo-like run ------------------------------------------


@pytest.mark.usefixtures("restore_root")
@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_token_secret_session_or_login_link_in_any_log_line(
    log_format: str, config: Config, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a Telegram token and a secret key configured: sign in to the dashboard, break an
    event and a page with errors whose text carries the secrets, run a job; then scan every
    record and every formatted line of the log file."""
    telegram = {"console": {}, "telegram": {"token": Secret(TOKEN)}}
    async with web_world(config, clock, adapter_settings=telegram) as world:
        log_file = tmp_path / "logs" / "studyhall.log"
        configure_logging(
            "DEBUG", world.app.config.secret_values(), log_file, stderr=False, log_format=log_format
        )
        records: list[logging.LogRecord] = []
        keeper = _ListHandler()
        keeper.emit = records.append  # type: ignore[method-assign]
        logging.getLogger().addHandler(keeper)  # records as they arrive, before any filter

        await world.console(":as Mei creator", ":as Ana", "/start", ":in lounge", "hello")
        link = await world.link("Mei", "creator")
        path = urlsplit(link).path
        login_token = path.rsplit("/", 1)[1]
        assert (await world.client.get(path, allow_redirects=False)).status == 303
        session_id = next(c.value for c in world.client.session.cookie_jar if c.key == "studyhall_session")
        csrf = await world.csrf()

        async def broken_event(*args: object) -> None:
            raise RuntimeError(f"Unauthorized: bot{TOKEN}/getMe after {link}")

        dispatch = world.app.router.dispatch
        monkeypatch.setattr(world.app.router, "dispatch", broken_event)
        apology = await world.console.text(":as Ana", "/points")
        monkeypatch.setattr(world.app.router, "dispatch", dispatch)
        event_error = re.search(r"\(error ([0-9a-f]{8})\)", apology)
        assert event_error, apology

        async def broken_page(*args: object) -> None:
            raise RuntimeError(f"key {SECRET_KEY} session {link}")

        monkeypatch.setattr(world.app.services.analytics, "recompute", broken_page)
        failed = await world.client.post("/dashboard/recompute", data={"csrf": csrf})
        page_error = re.search(r"error ([0-9a-f]{8})", await failed.text())
        assert failed.status == 500 and page_error
        for name in list(world.app.jobs.jobs)[:3]:
            await world.app.job_runner.run_job(name)
        await world.client.post("/dashboard/logout", data={"csrf": csrf})
        logging.getLogger().removeHandler(keeper)
        _flush()

    text = log_file.read_text(encoding="utf-8")
    lines = text.splitlines()
    if log_format == "json":
        parsed = [json.loads(line) for line in lines]  # each line one JSON object
        failures = [line for line in parsed if line.get("error_id")]
        assert {line["error_id"] for line in failures} >= {event_error.group(1), page_error.group(1)}
    else:
        assert f"error={event_error.group(1)}]" in text and f"error={page_error.group(1)}]" in text
    assert "event handling failed" in text and "dashboard: a page failed" in text
    assert "/dashboard/login/***" in text
    final = [r.getMessage() + (r.exc_text or "") for r in records]  # after the handlers' filters
    for secret in (TOKEN, SECRET_KEY, login_token, session_id, csrf, link):
        assert secret not in text, secret
        assert not any(secret in line for line in final), secret
