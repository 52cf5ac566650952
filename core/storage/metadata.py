"""The single MetaData every table module registers on."""

from sqlalchemy import MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def load_all_tables() -> MetaData:
    """Import every table module so ``metadata`` is complete (migrations, tests)."""
    import core.access.tables
    import core.activity.tables
    import core.analytics.tables
    import core.audit.tables
    import core.catalog.tables
    import core.delivery.tables
    import core.ledger.tables
    import core.members.tables
    import core.orders.tables
    import core.pushes.tables
    import core.qa.tables
    import core.referrals.tables
    import core.settings.tables
    import core.storage.state_tables  # noqa: F401

    return metadata


# Made by migrations outside the table definitions (full-text search: core/qa/tables.py).
UNMODELLED_PREFIXES = ("qa_documents_fts", "ix_qa_documents_terms")


def is_modelled(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's ``include_object``: leave out what the table definitions do not describe."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)
