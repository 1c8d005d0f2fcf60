"""All configuration of the linkage service, in one place (environment prefix ``VINCULO_``).

Every setting can be given as an environment variable (``VINCULO_DATABASE_URL``,
``VINCULO_ENVIRONMENT`` …) or passed to :class:`Settings` directly (tests, ``vinculo serve``).
``docs/operations.md`` lists them all; a test fails when one is undocumented.

Outside ``development`` the settings refuse what is only acceptable on a laptop: an empty or
well-known service-key passphrase, a PostgreSQL password that is empty or a default one, and
the test-only extra schema fingerprints, and a missing custody key (the key that seals the bank
at rest, held by a custodian: linkage_service.custody).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vinculo_common.errors import ConfigError
from vinculo_common.schemas import DEFAULT_SCHEMA_ID

__all__ = ["DEFAULT_SECRETS", "Settings", "load_settings"]

# Values people leave in place from tutorials and templates; refused outside development.
DEFAULT_SECRETS = frozenset(
    {"", "changethis", "changeme", "secret", "password", "postgres", "vinculo", "admin"}
)


class Settings(BaseSettings):
    """Configuration of the service.

    >>> Settings(database_url="sqlite:///bank.db").environment
    'development'
    """

    model_config = SettingsConfigDict(env_prefix="VINCULO_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///vinculo.db",
        description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER:PASS@HOST/DB",
    )
    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    max_upload_records: int = Field(default=2_000_000, gt=0)
    # Thresholds on the match probability; unset, each job chooses them from the data.
    match_upper_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    match_lower_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    service_key_path: Path | None = None
    keys_dir: Path | None = Field(
        default=None,
        description="keys directory of the ceremony: the service signs with its "
                    "service/signing.key (never created; the service refuses to start without it)",
    )
    service_key_passphrase: SecretStr | None = None
    data_dir: Path | None = None
    linkage_schema: str = Field(
        default=DEFAULT_SCHEMA_ID,
        description="the one linkage schema (schemas/linkage/<id>.json) this bank accepts",
    )
    extra_schema_fingerprints: list[str] = Field(default_factory=list)
    reid_max_persons: int = Field(default=20, ge=1, description="persons per reid request")
    reid_max_requests_per_day: int = Field(default=10, ge=1, description="per requester, 24 h")
    reid_ttl_hours: float = Field(default=168, gt=0, description="a reid request expires")
    reid_second_approval_above: int = Field(
        default=5, description="more persons than this need two approvals; negative: never"
    )
    stats_min_cell_floor: int = Field(
        default=10, ge=1, description="smallest min_cell an analyst may ask for"
    )
    stats_dp_epsilon: float | None = Field(
        default=None, gt=0, description="discrete Laplace noise per published cell; None: off"
    )
    job_lease_seconds: float = Field(
        default=120, ge=5, description="a job whose heartbeat is older is taken as dead"
    )
    custody_key_file: Path | None = Field(
        default=None, description="custodian's key file (64 hex digits) sealing the bank at rest"
    )
    custody_key_passphrase: SecretStr | None = Field(
        default=None, description="or the custodian's passphrase (scrypt) for that key"
    )
    audit_checkpoint_every: int = Field(
        default=100, ge=0, description="sign an audit checkpoint every N entries (0: on demand)"
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if (
            self.match_lower_threshold is not None
            and self.match_upper_threshold is not None
            and self.match_lower_threshold > self.match_upper_threshold
        ):
            raise ValueError("match_lower_threshold debe ser <= match_upper_threshold")
        try:
            url = make_url(self.database_url)
        except ArgumentError:
            raise ValueError("database_url no es una URL de base de datos válida") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("database_url: solo se admiten sqlite y postgresql")
        if self.keys_dir is not None and self.service_key_path is not None:
            raise ValueError("defina keys_dir o service_key_path, no ambos (set only one)")
        if self.environment != "development":
            passphrase = (
                self.service_key_passphrase.get_secret_value()
                if self.service_key_passphrase
                else ""
            )
            if passphrase.strip().lower() in DEFAULT_SECRETS:
                raise ValueError(
                    "VINCULO_SERVICE_KEY_PASSPHRASE vacía o por defecto: no se admite fuera de "
                    "development (empty or default secret)"
                )
            if url.get_backend_name() == "postgresql" and (
                (url.password or "").strip().lower() in DEFAULT_SECRETS
                and url.host not in (None, "")
                and not url.host.startswith("/")
            ):
                raise ValueError(
                    "la contraseña de PostgreSQL en VINCULO_DATABASE_URL está vacía o es por "
                    "defecto (empty or default database password)"
                )
            custody = (self.custody_key_passphrase.get_secret_value()
                       if self.custody_key_passphrase else "")
            if self.custody_key_file is None and custody.strip().lower() in DEFAULT_SECRETS:
                raise ValueError(
                    "falta la clave de custodia: defina VINCULO_CUSTODY_KEY_FILE o "
                    "VINCULO_CUSTODY_KEY_PASSPHRASE (la entrega el custodio, no el operador) "
                    "(custody key required outside development)"
                )
            if self.extra_schema_fingerprints:
                raise ValueError(
                    "VINCULO_EXTRA_SCHEMA_FINGERPRINTS solo se admite en development"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL and in-memory SQLite."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)

    def resolved_service_key_path(self) -> Path:
        """Where the service's Ed25519 key lives (created there on first start).

        >>> str(Settings(database_url="sqlite:///x/bank.db").resolved_service_key_path())
        'x/bank.db.service-key'
        >>> str(Settings(database_url="sqlite:///x/bank.db", keys_dir="claves")
        ...     .resolved_service_key_path())
        'claves/service/signing.key'
        """
        if self.service_key_path is not None:
            return self.service_key_path
        if self.keys_dir is not None:
            return self.keys_dir / "service" / "signing.key"
        db_file = self.sqlite_path()
        if db_file is not None:
            return db_file.with_name(db_file.name + ".service-key")
        if self.data_dir is not None:
            return self.data_dir / "service.key"
        raise ConfigError(
            "no sé dónde guardar la clave del servicio: defina VINCULO_SERVICE_KEY_PATH o "
            "VINCULO_DATA_DIR (service key location unknown)"
        )


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment plus ``overrides``; errors become ConfigError.

    The message lists what is wrong without echoing values (a URL may hold a password).

    >>> load_settings(database_url="sqlite:///bank.db").is_sqlite
    True
    """
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"configuración inválida (invalid settings): {reasons}") from None
