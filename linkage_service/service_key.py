"""The service's own Ed25519 key, which signs re-identification packages and audit checkpoints.
Found, first match wins, in the ceremony's ``keys_dir`` (never created), at
``service_key_path``, or beside the database (created on first start, 0600; encrypted with
``VINCULO_SERVICE_KEY_PASSPHRASE`` when set): docs/operations.md.

"""

from __future__ import annotations

import logging
import stat

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage_service.logs import log_event
from linkage_service.settings import Settings
from vinculo_common.crypto import (
    key_id,
    load_private_key,
    load_public_key,
    private_key_pem,
    write_private,
)
from vinculo_common.errors import ConfigError

__all__ = ["load_or_create_service_key", "load_service_key_of_keys_dir"]


def _passphrase(settings: Settings) -> bytes | None:
    return (settings.service_key_passphrase.get_secret_value().encode()
            if settings.service_key_passphrase else None)


def load_service_key_of_keys_dir(settings: Settings) -> Ed25519PrivateKey:
    """The ceremony's service key from ``settings.keys_dir`` (see the module docstring)."""
    assert settings.keys_dir is not None
    path = settings.resolved_service_key_path()
    if not path.is_file():
        raise ConfigError(
            f"la carpeta de claves {settings.keys_dir} no tiene la clave del servicio "
            "service/signing.key (vinculo keys init la crea): el servicio no arranca sin ella "
            "(service key missing from the keys directory)")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(
            f"{path}: la clave del servicio es legible por otros usuarios; use chmod 600 "
            "(service key readable by others)")
    pem = path.read_bytes()
    encrypted = b"ENCRYPTED" in pem.split(b"\n", 1)[0]
    key = load_private_key(path, _passphrase(settings) if encrypted else None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: la clave del servicio debe ser Ed25519")
    public_path = path.with_suffix(".pub")
    if public_path.is_file() and key_id(load_public_key(public_path)) != key_id(key.public_key()):
        raise ConfigError(
            f"{public_path} no corresponde a {path.name}: no es el par de la ceremonia "
            "(service public key does not match the private key)")
    secrets = [p for p in (settings.keys_dir / "linkage_secret.key",
                           *settings.keys_dir.glob("sources/*/*.key")) if p.exists()]
    if secrets:
        if settings.environment != "development":
            raise ConfigError(
                f"la carpeta de claves {settings.keys_dir} contiene claves privadas de las "
                "instituciones o el secreto de enlace: el servicio solo debe tener "
                "service/signing.key y archivos públicos (institution secrets in keys_dir)")
        log_event("service.keys_dir_holds_institution_keys", level=logging.WARNING,
                  count=len(secrets))
    return key


def load_or_create_service_key(settings: Settings) -> Ed25519PrivateKey:
    """The service key named by ``settings``, created on first use unless it comes from a
    keys directory.

    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "bank.db"
    >>> key = load_or_create_service_key(Settings(database_url=f"sqlite:///{db}"))
    >>> oct(db.with_name("bank.db.service-key").stat().st_mode & 0o777)
    '0o600'
    """
    if settings.keys_dir is not None:
        return load_service_key_of_keys_dir(settings)
    path = settings.resolved_service_key_path()
    passphrase = _passphrase(settings)
    if path.exists():
        key = load_private_key(path, passphrase)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: la clave del servicio debe ser Ed25519")
        return key
    if not path.parent.is_dir():
        raise ConfigError(f"no existe la carpeta de la clave del servicio: {path.parent}")
    key = Ed25519PrivateKey.generate()
    write_private(path, private_key_pem(key, passphrase))
    return key
