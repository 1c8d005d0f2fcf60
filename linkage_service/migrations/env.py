"""Alembic environment: runs on the engine handed over by ``linkage_service.db.migrate``.

Target metadata is SQLModel's, with every model module imported, so ``alembic revision
--autogenerate`` (run by a developer, then checked by hand) sees all tables. SQLite needs
``render_as_batch`` to alter tables.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import linkage_service.models  # noqa: F401  (registers every table)
from linkage_service.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("use linkage_service.db.migrate or set sqlalchemy.url")
        engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
