"""Alembic environment. Run through core.storage.migrate, which hands over a connection."""

from alembic import context

from core.storage.schema import is_modelled, load_all_tables

target_metadata = load_all_tables()


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `studyhall migrate` (core.storage.migrate)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=is_modelled,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
