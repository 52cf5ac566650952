"""Logging set-up: a file in the data directory, and secrets redacted from every record."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from bot.startup import StartupError

REDACTED = "***"


class RedactSecrets(logging.Filter):
    """Replaces any configured secret value in a record's final text with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret containing another is fully hidden.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(text), ()
        record.exc_text = self.redact(record.exc_text or "") or None
        return True

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ***."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(level: str, secrets: Iterable[str], log_file: Path | None, *, stderr: bool) -> None:
    """Send logs to ``log_file`` (and stderr if asked), with secrets redacted."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    redact = RedactSecrets(secrets)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as error:
            raise StartupError(
                f"cannot write the log file {log_file}: {error.strerror}; "
                "check that folder, or choose another data folder with STUDYHALL_DATA_DIR"
            ) from None
    if stderr:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.addFilter(redact)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    # Library chatter (SQL echo, alembic info) stays out unless asked for.
    for noisy in ("alembic", "sqlalchemy", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
