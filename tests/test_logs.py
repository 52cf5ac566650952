"""bot/logs.py: secrets redacted from every log record, and the log file set-up."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import REDACTED, RedactSecrets, configure_logging

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
