"""The output of a process a test started, read line by line in a thread of its own, so its pipe
never fills and blocks the process."""

from __future__ import annotations

import threading
import time
from typing import IO


class Lines:
    """A pipe of a running process, read line by line in a thread of its own."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if text in line), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in {self.lines}")

    def tail(self, count: int = 30) -> str:
        return "\n".join(self.lines[-count:])

    @property
    def text(self) -> str:
        """Everything, once the pipe has closed (the process ended)."""
        self._thread.join(timeout=10)
        return "\n".join(self.lines)
