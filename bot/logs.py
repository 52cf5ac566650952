"""Logging set-up: a size-rotated file in the data directory, text or JSON lines, the request and
error ids (core/tracing.py) on every line, and secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

from bot.config import Config
from bot.startup import StartupError
from core.tracing import error_id, request_id

REDACTED = "***"
LOGIN_LINK = re.compile(r"(/dashboard/login/)[A-Za-z0-9_-]+")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Replaces any configured secret value, and the token of any dashboard login link, in a
    record's final text with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret containing another is fully hidden.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self.redact(text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def redact(self, text: str) -> str:
        """``text`` with every secret and login-link token replaced by ***."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        # A login link signs its holder in: whatever put one in a message, it stays out.
        return LOGIN_LINK.sub(rf"\1{REDACTED}", text)


class RequestIds(logging.Filter):
    """Puts the current request and error ids on the record (``request_id``, ``error_id``, and
    ``ids``: `` [req=…]`` or `` [req=… error=…]``, empty outside a request, for text lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid, eid = request_id.get(), error_id.get()
        record.request_id, record.error_id = rid, eid
        if rid is None:
            record.ids = ""
        else:
            record.ids = f" [req={rid} error={eid}]" if eid else f" [req={rid}]"
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the ids, and
    the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "error_id"):
            value = getattr(record, key, None)
            if value:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(
    level: str,
    secrets: Iterable[str],
    log_file: Path | None,
    *,
    stderr: bool,
    log_format: str = "text",
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> None:
    """Send logs to ``log_file`` (rotated at ``max_bytes``, ``backups`` old files kept) and to
    stderr if asked, as text or JSON lines, with the request ids and secrets redacted."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    redact = RedactSecrets(secrets)
    ids = RequestIds()
    handlers: list[logging.Handler] = []
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(
                RotatingFileHandler(log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
            )
        except OSError as error:
            raise StartupError(
                f"cannot write the log file {log_file}: {error.strerror}; "
                "check that folder, or choose another data folder with STUDYHALL_DATA_DIR"
            ) from None
    if stderr:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.addFilter(ids)
        handler.addFilter(redact)
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
    # Library chatter (SQL echo, alembic info) stays out unless asked for.
    for noisy in ("alembic", "sqlalchemy", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def configure_for(config: Config, *, stderr: bool) -> None:
    """configure_logging with everything the configuration says (the file in the data folder)."""
    configure_logging(
        config.log_level,
        config.secret_values(),
        config.data_dir / "studyhall.log",
        stderr=stderr,
        log_format=config.log_format,
        max_bytes=config.log_max_bytes,
        backups=config.log_backups,
    )
