"""Custody: the bank's encodings and content attributes sealed at rest (AES-256-GCM, bound to
their row) under a key held by a custodian, not in the database or its backups; rows name
records by a keyed ``stored_ref``, so a source's own reference key finds nothing in a stolen
database. The key per engine, its sources and the development key: docs/security.md and
docs/operations.md.

>>> key = CustodyKey(bytes(32))
>>> blob = seal_record(key, source_id=1, record_ref=b"r" * 32, version=1, clk=b"\\x01" * 128,
...                    sections={"doc_hash": None}, attributes={"sex": "F"})
>>> open_record(key, blob, source_id=1, record_ref=b"r" * 32, version=1).attributes
{'sex': 'F'}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vinculo_common.errors import ConfigError, IntegrityError

__all__ = [
    "DEV_CUSTODY_KEY",
    "CustodyKey",
    "OpenedRecord",
    "custody_key_for",
    "install_custody_key",
    "key_from_file",
    "key_from_passphrase",
    "load_custody_key",
    "new_key_file",
    "open_record",
    "seal_record",
]

_VERSION = 1
_NONCE = 12
_NONE = 0xFFFF
_AD_LABEL = b"vinculo custody v1|encoded_record|"
_KID_LABEL = b"vinculo custody key id v1|"
_REF_LABEL = b"vinculo custody stored record_ref v1"
_SCRYPT_SALT = b"vinculo custody passphrase v1"
# Public on purpose: development banks are sealed with it so the code path is the same, but
# anyone can open them. Production refuses it (Settings).
DEV_CUSTODY_KEY = hashlib.sha256(b"vinculo development custody key - public, protects nothing"
                                 ).digest()


class CustodyKey:
    """An AES-256-GCM key and its public check value ``key_id``.

    >>> CustodyKey(bytes(32)).key_id
    'b1e8c455d7d717bf'
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("la clave de custodia debe tener 32 bytes (custody key: 32 bytes)")
        self._aead = AESGCM(key)
        self._ref_key = hmac.digest(key, _REF_LABEL, "sha256")
        self.key_id = hashlib.sha256(_KID_LABEL + key).hexdigest()[:16]
        self.is_development = key == DEV_CUSTODY_KEY

    def __repr__(self) -> str:  # never the key
        return f"CustodyKey(key_id={self.key_id!r})"

    def stored_ref(self, source_id: int, record_ref: bytes) -> bytes:
        """The reference the bank stores for a source's ``record_ref``: HMAC-SHA256 under a
        key derived from the custody key, so whoever holds the source's reference key (and its
        records) cannot find them in a stolen database. Deterministic: re-uploads and
        withdrawals find their rows."""
        return hmac.digest(self._ref_key, struct.pack(">q", int(source_id)) + bytes(record_ref),
                           "sha256")

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return bytes([_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, blob: bytes, associated: bytes) -> bytes:
        if len(blob) < 1 + _NONCE + 16 or blob[0] != _VERSION:
            raise IntegrityError("registro sellado ilegible (unreadable sealed record)")
        try:
            return self._aead.decrypt(blob[1:1 + _NONCE], blob[1 + _NONCE:], associated)
        except InvalidTag:
            raise IntegrityError(
                "un registro sellado no abre con la clave de custodia: clave equivocada o fila "
                "alterada (sealed record does not open: wrong custody key or tampered row)"
            ) from None


def key_from_file(path: Path) -> CustodyKey:
    """A key file: 64 hex digits (whitespace ignored), as ``vinculo admin custody keygen``
    writes it. Raises ConfigError naming the file, never its content."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileNotFoundError:
        raise ConfigError(f"no existe el archivo de la clave de custodia {path} "
                          "(custody key file not found)") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise ConfigError(f"{path}: la clave de custodia debe ser 64 dígitos hexadecimales "
                          "(custody key file: 64 hex digits)") from None
    return CustodyKey(key)


def key_from_passphrase(passphrase: str) -> CustodyKey:
    """scrypt (n = 2^15, r = 8, p = 1) of the custodian's passphrase.

    >>> key_from_passphrase("una frase larga del custodio").key_id == \\
    ...     key_from_passphrase("una frase larga del custodio").key_id
    True
    """
    if len(passphrase) < 12:
        raise ConfigError("la frase de la clave de custodia debe tener al menos 12 caracteres "
                          "(custody passphrase: 12 characters or more)")
    derived = hashlib.scrypt(passphrase.encode("utf-8"), salt=_SCRYPT_SALT, n=2 ** 15, r=8, p=1,
                             maxmem=64 * 1024 * 1024, dklen=32)
    return CustodyKey(derived)


# ----------------------------------------------------------------------------- one record


@dataclass(frozen=True)
class OpenedRecord:
    clk: bytes
    sections: dict[str, bytes | None]
    attributes: dict[str, Any]
    record_ref: bytes = b""  # the source's own reference (the row holds ``stored_ref``)
    locator: bytes = b""  # the locator sealed to the source


def _associated(source_id: int, record_ref: bytes, version: int) -> bytes:
    return _AD_LABEL + struct.pack(">qq", int(source_id), int(version)) + bytes(record_ref)


def seal_record(key: CustodyKey, *, source_id: int, record_ref: bytes, version: int, clk: bytes,
                sections: dict[str, bytes | None], attributes: dict[str, Any],
                original_ref: bytes = b"", locator: bytes = b"") -> bytes:
    """One record's CLK, sections (in the given order), attributes, the source's own
    reference and its locator, sealed to its row (``record_ref``: what the row stores)."""
    parts = [struct.pack(">H", len(original_ref)), bytes(original_ref),
             struct.pack(">H", len(locator)), bytes(locator),
             struct.pack(">H", len(clk)), clk, struct.pack(">H", len(sections))]
    for name, value in sections.items():
        label = name.encode("ascii")
        parts += [struct.pack(">B", len(label)), label]
        parts += [struct.pack(">H", _NONE)] if value is None else \
            [struct.pack(">H", len(value)), bytes(value)]
    parts.append(json.dumps(attributes, sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False).encode("utf-8"))
    return key.seal(b"".join(parts), _associated(source_id, record_ref, version))


def open_record(key: CustodyKey, blob: bytes, *, source_id: int, record_ref: bytes,
                version: int) -> OpenedRecord:
    """The inverse of ``seal_record``; IntegrityError for a wrong key or a moved row."""
    data = key.open(bytes(blob), _associated(source_id, record_ref, version))
    pos = 0
    fields = []
    for _ in range(3):
        (n,) = struct.unpack_from(">H", data, pos)
        fields.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    original, locator, clk = fields
    (count,) = struct.unpack_from(">H", data, pos)
    pos += 2
    sections: dict[str, bytes | None] = {}
    for _ in range(count):
        (width,) = struct.unpack_from(">B", data, pos)
        name = data[pos + 1:pos + 1 + width].decode("ascii")
        pos += 1 + width
        (n,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if n == _NONE:
            sections[name] = None
        else:
            sections[name] = data[pos:pos + n]
            pos += n
    return OpenedRecord(clk=clk, sections=sections, attributes=json.loads(data[pos:]),
                        record_ref=original, locator=locator)


# ----------------------------------------------------------------------------- per engine

_KEYS: weakref.WeakKeyDictionary[Any, CustodyKey] = weakref.WeakKeyDictionary()
_DEV = CustodyKey(DEV_CUSTODY_KEY)


def install_custody_key(engine: Any, key: CustodyKey | bytes | None) -> CustodyKey:
    """Make ``key`` the custody key of everything that uses ``engine`` (None: the public
    development key). Returns the key installed."""
    chosen = _DEV if key is None else key if isinstance(key, CustodyKey) else CustodyKey(key)
    _KEYS[engine] = chosen
    return chosen


def custody_key_for(session: Any) -> CustodyKey:
    """The custody key of the engine behind ``session`` (the development key when none was
    installed: tests and development tools; ``create_app`` always installs one)."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    return _KEYS.get(engine, _DEV)


def load_custody_key(settings: Any) -> CustodyKey:
    """The custody key ``settings`` name: the key file, else the passphrase, else (development
    only; Settings refuses it in production) the public development key.

    >>> from linkage_service.settings import Settings
    >>> load_custody_key(Settings(database_url="sqlite:///b.db")).is_development
    True
    """
    if settings.custody_key_file is not None:
        return key_from_file(Path(settings.custody_key_file))
    if settings.custody_key_passphrase is not None:
        return key_from_passphrase(settings.custody_key_passphrase.get_secret_value())
    if settings.environment != "development":
        raise ConfigError("falta la clave de custodia (custody key required)")
    return _DEV


def new_key_file(path: Path) -> CustodyKey:
    """Write a fresh random custody key (64 hex digits, mode 0600) for the custodian; refuses
    to overwrite."""
    path = Path(path)
    if path.exists():
        raise ConfigError(f"{path} ya existe: no se sobrescribe una clave (refusing to overwrite)")
    if not path.parent.is_dir():
        raise ConfigError(f"no existe la carpeta {path.parent} (folder missing)")
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    return CustodyKey(key)
