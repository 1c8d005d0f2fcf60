"""The service's own Ed25519 key (signs re-identification packages and audit checkpoints).

Read from ``Settings.service_key_path`` or, when that is unset, beside the SQLite file
(``<db>.service-key``) or in ``VINCULO_DATA_DIR/service.key`` for PostgreSQL; created there
(0600) on first start, so ``vinculo serve --db URL`` needs nothing else. With
``VINCULO_SERVICE_KEY_PASSPHRASE`` the PEM is encrypted (PKCS#8, best available encryption).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage_service.settings import Settings
from vinculo_common.crypto import load_private_key, private_key_pem, write_private
from vinculo_common.errors import ConfigError

__all__ = ["load_or_create_service_key"]


def load_or_create_service_key(settings: Settings) -> Ed25519PrivateKey:
    """The service key named by ``settings``, created on first use.

    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "bank.db"
    >>> key = load_or_create_service_key(Settings(database_url=f"sqlite:///{db}"))
    >>> oct(db.with_name("bank.db.service-key").stat().st_mode & 0o777)
    '0o600'
    """
    path = settings.resolved_service_key_path()
    passphrase = (
        settings.service_key_passphrase.get_secret_value().encode()
        if settings.service_key_passphrase
        else None
    )
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
