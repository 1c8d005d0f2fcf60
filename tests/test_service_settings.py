"""Settings refuse unsafe values outside development, and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage_service.settings import Settings, load_settings
from vinculo_common.errors import ConfigError

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def test_every_setting_is_documented() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`VINCULO_{name.upper()}`" in text, f"VINCULO_{name.upper()} not in operations.md"


@pytest.mark.parametrize("passphrase", [None, "", "changethis", "secret"])
def test_production_refuses_default_secrets(passphrase: str | None) -> None:
    with pytest.raises(ConfigError, match="por defecto"):
        load_settings(environment="production", database_url="sqlite:///x.db",
                      service_key_passphrase=passphrase)


def test_production_refuses_default_database_password_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environment="production", service_key_passphrase="una frase larga 7x",
                      database_url="postgresql+psycopg://vinculo:postgres@db.interno/vinculo")
    assert "contraseña" in str(refused.value) and "postgres@" not in str(refused.value)
    ok = load_settings(environment="production", service_key_passphrase="una frase larga 7x",
                       database_url="postgresql+psycopg://vinculo:Xq9-larga@db.interno/vinculo",
                       custody_key_passphrase="la frase del custodio, no del operador")
    assert ok.environment == "production"


def test_environment_variables_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VINCULO_DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("VINCULO_MAX_UPLOAD_BYTES", "1000")
    settings = load_settings()
    assert settings.database_url == "sqlite:///env.db" and settings.max_upload_bytes == 1000
    with pytest.raises(ConfigError, match="match_lower_threshold"):
        load_settings(match_lower_threshold=0.95, match_upper_threshold=0.9)
    with pytest.raises(ConfigError, match="sqlite y postgresql"):
        load_settings(database_url="mysql://u:p@h/db")


def test_service_key_location(tmp_path: Path) -> None:
    from linkage_service.service_key import load_or_create_service_key

    settings = Settings(database_url="postgresql+psycopg://u@h/db")
    with pytest.raises(ConfigError, match="VINCULO_DATA_DIR"):
        settings.resolved_service_key_path()
    encrypted = Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}",
                         service_key_passphrase="frase de prueba")
    key = load_or_create_service_key(encrypted)
    assert b"ENCRYPTED" in (tmp_path / "b.db.service-key").read_bytes()
    again = load_or_create_service_key(encrypted)
    assert again.public_key() == key.public_key()
