"""Storage: one SQLAlchemy MetaData, the async Database, and Alembic migrations."""

from core.storage.database import Database
from core.storage.metadata import metadata

__all__ = ["Database", "metadata"]
