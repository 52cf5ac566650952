#!/usr/bin/env bash
# Start the machine's PostgreSQL if it is not accepting connections (see shared TESTING.md).
set -euo pipefail
host=127.0.0.1
port=5432
if command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "$port"; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h "$host" -p "$port" && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not reachable at $host:$port and could not be started" >&2
exit 1
