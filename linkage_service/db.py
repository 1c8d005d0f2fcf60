"""Database engine, sessions and migrations, for SQLite (a file) and PostgreSQL.

SQLite connections run with foreign keys on, WAL journaling and a busy timeout, so the web
server and a CLI command can share the file. PostgreSQL goes through psycopg 3
(``postgresql+psycopg://``); plain ``postgresql://`` URLs are rewritten to it.

Migrations are Alembic scripts in ``linkage_service/migrations/versions`` run programmatically
(no alembic.ini needed): :func:`migrate` brings any database to the newest revision.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from vinculo_common.errors import ConfigError

__all__ = ["MIGRATIONS_DIR", "current_revision", "downgrade", "make_engine", "migrate",
           "normalize_url",
           "session_scope"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names.

    >>> normalize_url("postgresql://u@localhost/vinculo")
    'postgresql+psycopg://u@localhost/vinculo'
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Engine for ``url``; for a SQLite file the parent folder must exist.

    >>> make_engine("sqlite://").dialect.name
    'sqlite'
    """
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if not parsed.database or parsed.database == ":memory:":
            kwargs["poolclass"] = StaticPool
        else:
            folder = Path(parsed.database).resolve().parent
            if not folder.is_dir():
                raise ConfigError(f"no existe la carpeta de la base de datos: {folder}")
        engine = create_engine(url, echo=echo, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, echo=echo, pool_pre_ping=True)
    raise ConfigError("base de datos no soportada: use sqlite:/// o postgresql+psycopg://")


def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield one session; roll back whatever it left uncommitted.

    >>> engine = make_engine("sqlite://")
    >>> next(session_scope(engine)).bind is engine
    True
    """
    with Session(engine) as session:
        try:
            yield session
        finally:
            session.rollback()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, *, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (all migrations by default); idempotent.

    >>> engine = make_engine("sqlite://")
    >>> migrate(engine); current_revision(engine) is not None
    True
    """
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"no se pudo migrar la base de datos ({type(exc).__name__}); revise la URL y "
            "los permisos (migration failed)"
        ) from None


def downgrade(engine: Engine, *, revision: str) -> None:
    """Downgrade to ``revision`` (``base`` drops everything); for tests and recovery."""
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev
