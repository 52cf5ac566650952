"""The community settings table (only values that differ from the defaults are stored)."""

from sqlalchemy import Column, ForeignKey, String, Table, Text

from core.storage.metadata import metadata
from core.storage.types import BigId

community_settings = Table(
    "community_settings",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
