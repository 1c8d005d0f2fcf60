"""Key material of a deployment: create it (``vinculo keys init``) and load it, with clear errors.

The layout is ``vinculo_common.keyfiles.KeyDir``; the ceremony is in ``keys/README.md``.

The shared linkage secret is 32 random bytes written as hex text, or, with a passphrase,
sealed in a small JSON envelope::

    {"format": "vinculo-sealed-secret", "version": 1,
     "kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<16 bytes hex>",
     "cipher": "chacha20-poly1305", "nonce": "<12 bytes hex>", "ciphertext": "<48 bytes hex>"}

The key is scrypt(passphrase, salt, n, r, p, length 32); the ciphertext is
ChaCha20-Poly1305(key, nonce, secret, aad=b"vinculo linkage secret v1"). A wrong passphrase
fails authentication; the loader then says so without guessing further.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from vinculo_common.crypto import (
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    secret_check_value,
    write_private,
    write_public,
)
from vinculo_common.errors import ConfigError, Conflict, InputError
from vinculo_common.keyfiles import KeyDir, check_source_name

__all__ = [
    "LINKAGE_SECRET_SIZE",
    "decrypt_secret",
    "encrypt_secret",
    "init_keys",
    "load_box_private",
    "load_box_public",
    "load_linkage_kcv",
    "load_linkage_secret",
    "load_record_ref_key",
    "load_service_signing_key",
    "load_service_signing_public",
    "load_signing_key",
    "load_signing_public",
    "parse_sources",
    "read_passphrase_file",
]

LINKAGE_SECRET_SIZE = 32
RECORD_REF_KEY_SIZE = 32
_ENVELOPE = "vinculo-sealed-secret"
_AAD = b"vinculo linkage secret v1"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def parse_sources(text: str) -> list[str]:
    """Split ``"reta,sistra,care"`` into checked source names, in order, without repeats.

    >>> parse_sources("reta, sistra,care,reta")
    ['reta', 'sistra', 'care']
    """
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name and name not in names:
            names.append(check_source_name(name))
    if not names:
        raise InputError("indique al menos una fuente con --sources (no sources given)")
    return names


def read_passphrase_file(path: Path) -> bytes:
    """The passphrase in ``path`` (first line, without its line break); InputError if unusable."""
    try:
        text = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"no se puede leer el archivo de frase de paso {path}: {exc.strerror}")\
            from None
    if not text or not text[0]:
        raise InputError(f"el archivo de frase de paso {path} está vacío (empty passphrase file)")
    return text[0]


def _scrypt_key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def encrypt_secret(secret: bytes, passphrase: bytes) -> bytes:
    """Seal the linkage secret under a passphrase (scrypt + ChaCha20-Poly1305), as JSON bytes.

    >>> decrypt_secret(encrypt_secret(b"s" * 32, b"frase larga"), b"frase larga") == b"s" * 32
    True
    """
    if not passphrase:
        raise InputError("la frase de paso no puede estar vacía (empty passphrase)")
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _scrypt_key(passphrase, salt, **_SCRYPT)
    envelope = {
        "format": _ENVELOPE,
        "version": 1,
        "kdf": "scrypt",
        **_SCRYPT,
        "salt": salt.hex(),
        "cipher": "chacha20-poly1305",
        "nonce": nonce.hex(),
        "ciphertext": ChaCha20Poly1305(key).encrypt(nonce, secret, _AAD).hex(),
    }
    return (json.dumps(envelope, indent=1, sort_keys=True) + "\n").encode()


def decrypt_secret(data: bytes, passphrase: bytes) -> bytes:
    """Open what :func:`encrypt_secret` sealed; ConfigError on a wrong passphrase or bad file."""
    try:
        env = json.loads(data)
        if env.get("format") != _ENVELOPE or env.get("version") != 1 or env.get("kdf") != "scrypt":
            raise ValueError("format")
        n, r, p = int(env["n"]), int(env["r"]), int(env["p"])
        if not (2**14 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("parameters")
        salt, nonce = bytes.fromhex(env["salt"]), bytes.fromhex(env["nonce"])
        ciphertext = bytes.fromhex(env["ciphertext"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError("archivo del secreto de enlace protegido ilegible (bad envelope)")\
            from None
    try:
        return ChaCha20Poly1305(_scrypt_key(passphrase, salt, n, r, p)).decrypt(
            nonce, ciphertext, _AAD
        )
    except InvalidTag:
        raise ConfigError(
            "frase de paso incorrecta para el secreto de enlace (wrong passphrase)"
        ) from None


def init_keys(
    *,
    keys_dir: Path,
    sources: Sequence[str],
    passphrase: bytes | None = None,
    force: bool = False,
) -> list[Path]:
    """Create a complete keys directory for a demo or test deployment; return the files written.

    Refuses (Conflict) to overwrite any existing key file unless ``force``. Private files are
    0600. In a real deployment each party generates its own part (keys/README.md).

    >>> import tempfile
    >>> files = init_keys(keys_dir=Path(tempfile.mkdtemp()), sources=["reta"])
    >>> sorted(p.name for p in files)[:3]
    ['box.key', 'box.pub', 'linkage_secret.kcv']
    """
    names = [check_source_name(s) for s in sources]
    if not names:
        raise InputError("indique al menos una fuente (no sources given)")
    kd = KeyDir(Path(keys_dir))
    planned = [kd.linkage_secret, kd.linkage_kcv, kd.service_signing_key, kd.service_signing_pub]
    for name in names:
        sp = kd.source(name)
        planned += [sp.record_ref_key, sp.signing_key, sp.signing_pub, sp.box_key, sp.box_pub]
    existing = [p for p in planned if p.exists()]
    if existing and not force:
        raise Conflict(
            f"ya existen claves en {kd.root} ({existing[0].relative_to(kd.root)} y "
            f"{len(existing) - 1} más): no se sobrescriben; use --force para reemplazarlas "
            "(keys exist; refusing to overwrite)"
        )
    secret = os.urandom(LINKAGE_SECRET_SIZE)
    secret_file = (
        encrypt_secret(secret, passphrase) if passphrase else (secret.hex() + "\n").encode()
    )
    write_private(kd.linkage_secret, secret_file)
    write_public(kd.linkage_kcv, (secret_check_value(secret) + "\n").encode())
    service_key = Ed25519PrivateKey.generate()
    write_private(kd.service_signing_key, private_key_pem(service_key))
    write_public(kd.service_signing_pub, public_key_pem(service_key.public_key()))
    for name in names:
        sp = kd.source(name)
        write_private(sp.record_ref_key, (os.urandom(RECORD_REF_KEY_SIZE).hex() + "\n").encode())
        signing = Ed25519PrivateKey.generate()
        write_private(sp.signing_key, private_key_pem(signing))
        write_public(sp.signing_pub, public_key_pem(signing.public_key()))
        box = X25519PrivateKey.generate()
        write_private(sp.box_key, private_key_pem(box))
        write_public(sp.box_pub, public_key_pem(box.public_key()))
    for folder in {p.parent for p in planned}:
        os.chmod(folder, 0o700)  # private files are 0600 anyway; keep listings private too
    return planned


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"falta {what}: {path} (¿ejecutó 'vinculo keys init' o copió las claves?)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"no se puede leer {what} {path}: {exc.strerror}") from None


def _hex_key(path: Path, what: str, size: int) -> bytes:
    text = _read(path, what).decode("ascii", "replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{what} ilegible en {path}: se esperaba hexadecimal") from None
    if len(key) != size:
        raise ConfigError(f"{what} en {path}: se esperaban {size} bytes, hay {len(key)}")
    return key


def _keydir(keys_dir: Path) -> KeyDir:
    kd = KeyDir(Path(keys_dir))
    if not kd.root.is_dir():
        raise ConfigError(f"no existe el directorio de claves {kd.root} (keys directory missing)")
    return kd


def _source_dir(keys_dir: Path, source: str) -> KeyDir:
    kd = _keydir(keys_dir)
    if not kd.source(source).root.is_dir():
        raise ConfigError(
            f"no hay claves de la fuente {source!r} en {kd.root} (no keys for this source)"
        )
    return kd


def load_linkage_kcv(keys_dir: Path) -> str:
    """The public check value of the linkage secret (``linkage_secret.kcv``)."""
    path = _keydir(keys_dir).linkage_kcv
    kcv = _read(path, "el valor de control del secreto").decode("ascii", "replace").strip()
    if len(kcv) != 16 or any(c not in "0123456789abcdef" for c in kcv):
        raise ConfigError(f"valor de control ilegible en {path}")
    return kcv


def load_linkage_secret(keys_dir: Path, *, passphrase: bytes | None = None) -> bytes:
    """The shared linkage secret; checked against ``linkage_secret.kcv`` when that file exists."""
    kd = _keydir(keys_dir)
    raw = _read(kd.linkage_secret, "el secreto de enlace")
    if raw.lstrip().startswith(b"{"):
        if passphrase is None:
            raise ConfigError(
                "el secreto de enlace está protegido con frase de paso: use --passphrase-file "
                "(linkage secret is passphrase-protected)"
            )
        secret = decrypt_secret(raw, passphrase)
    else:
        secret = _hex_key(kd.linkage_secret, "el secreto de enlace", LINKAGE_SECRET_SIZE)
    if kd.linkage_kcv.exists() and not hmac.compare_digest(
        secret_check_value(secret), load_linkage_kcv(keys_dir)
    ):
        raise ConfigError(
            "el secreto de enlace no coincide con su valor de control (.kcv): archivos mezclados "
            "(linkage secret does not match its check value)"
        )
    return secret


def load_record_ref_key(keys_dir: Path, source: str) -> bytes:
    """The source's HMAC key for record references."""
    path = _source_dir(keys_dir, source).source(source).record_ref_key
    return _hex_key(path, f"la clave de referencias de {source}", RECORD_REF_KEY_SIZE)


def _private(path: Path, kind: type, what: str) -> Ed25519PrivateKey | X25519PrivateKey:
    key = load_private_key(path)
    if not isinstance(key, kind):
        raise ConfigError(f"{path}: no es {what}")
    return key


def _public(path: Path, kind: type, what: str) -> Ed25519PublicKey | X25519PublicKey:
    key = load_public_key(path)
    if not isinstance(key, kind):
        raise ConfigError(f"{path}: no es {what}")
    return key


def load_signing_key(keys_dir: Path, source: str) -> Ed25519PrivateKey:
    """The source's Ed25519 private key (signs its batches)."""
    path = _source_dir(keys_dir, source).source(source).signing_key
    key = _private(path, Ed25519PrivateKey, "una clave Ed25519")
    assert isinstance(key, Ed25519PrivateKey)
    return key


def load_signing_public(keys_dir: Path, source: str) -> Ed25519PublicKey:
    """The source's Ed25519 public key (the service verifies batches with it)."""
    path = _source_dir(keys_dir, source).source(source).signing_pub
    key = _public(path, Ed25519PublicKey, "una clave pública Ed25519")
    assert isinstance(key, Ed25519PublicKey)
    return key


def load_box_public(keys_dir: Path, source: str) -> X25519PublicKey:
    """The source's X25519 public key (locators and re-identification packages are sealed to it)."""
    path = _source_dir(keys_dir, source).source(source).box_pub
    key = _public(path, X25519PublicKey, "una clave pública X25519")
    assert isinstance(key, X25519PublicKey)
    return key


def load_box_private(keys_dir: Path, source: str) -> X25519PrivateKey:
    """The source's X25519 private key (opens its locators and packages)."""
    path = _source_dir(keys_dir, source).source(source).box_key
    key = _private(path, X25519PrivateKey, "una clave X25519")
    assert isinstance(key, X25519PrivateKey)
    return key


def load_service_signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The service's Ed25519 private key (signs packages and audit checkpoints)."""
    key = _private(_keydir(keys_dir).service_signing_key, Ed25519PrivateKey,
                   "una clave Ed25519")
    assert isinstance(key, Ed25519PrivateKey)
    return key


def load_service_signing_public(keys_dir: Path) -> Ed25519PublicKey:
    """The service's Ed25519 public key."""
    key = _public(_keydir(keys_dir).service_signing_pub, Ed25519PublicKey,
                  "una clave pública Ed25519")
    assert isinstance(key, Ed25519PublicKey)
    return key
