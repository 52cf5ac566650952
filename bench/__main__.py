"""Run the benchmarks: `python -m bench [NAME ...]` (default: all), each in its own process.

With ``STUDYHALL_BENCH_PG`` set (a postgresql+asyncpg URL), ``ledger`` and ``ingest`` run on
PostgreSQL as well (bench/ledger_pg.py, bench/ingest_pg.py), and the default set includes
``processes`` (bench/processes.py), which needs PostgreSQL and otherwise skips itself.
"""

from __future__ import annotations

import subprocess
import sys

from bench.pg import bench_url

BENCHMARKS = ("ledger", "ingest", "analytics", "push", "dashboard", "web", "recommend", "processes")
ON_POSTGRESQL = {"ledger": "ledger_pg", "ingest": "ingest_pg"}  # run after their SQLite run
NEEDS_POSTGRESQL = ("processes",)


def selected(argv: list[str], on_pg: bool) -> list[str]:
    """The benchmarks to run: those named, else all (those needing PostgreSQL only on it)."""
    return argv or [name for name in BENCHMARKS if on_pg or name not in NEEDS_POSTGRESQL]


def main(argv: list[str]) -> int:
    on_pg = bench_url() is not None
    names = selected(argv, on_pg)
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
        if on_pg and name in ON_POSTGRESQL:
            failed |= subprocess.call([sys.executable, "-m", f"bench.{ON_POSTGRESQL[name]}"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
