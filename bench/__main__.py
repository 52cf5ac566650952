"""Run the benchmarks: `python -m bench [NAME ...]` (default: all), each in its own process."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("ledger", "ingest", "analytics", "push", "dashboard")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for name in names:
        failed |= subprocess.call([sys.executable, "-m", f"bench.{name}"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
