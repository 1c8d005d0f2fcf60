"""Migrations on SQLite and PostgreSQL: the chain is linear, upgrade builds exactly the models'
schema, downgrade to base removes it, and upgrading twice is harmless."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import linkage_service.models  # noqa: F401  (all tables)
from linkage_service.db import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade,
    make_engine,
    migrate,
)


def test_revision_chain_is_linear_and_starts_at_core() -> None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1, "two heads: set down_revision to the latest revision"
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")][::-1]
    assert chain[0] == "0001_core"
    assert scripts.get_base() == "0001_core"


def test_upgrade_matches_models_and_downgrade_empties(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, SQLModel.metadata)
        assert diffs == [], f"models and migrations differ: {diffs}"
        downgrade(engine, revision="base")
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        migrate(engine)
        assert {"source", "api_token", "upload", "encoded_record"} <= set(
            sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
    engine.dispose()
