"""Small key/value state the app keeps for itself (sandbox clock, job bookkeeping)."""

from sqlalchemy import Column, String, Table, Text

from core.storage.metadata import metadata
from core.storage.types import UTCDateTime

app_state = Table(
    "app_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("last_run_at", UTCDateTime, nullable=False),
    Column("last_status", String(20), nullable=False),
    Column("last_error", Text, nullable=True),
)
