"""Standard constructions from ``cryptography`` that both sides share.

- Signatures: Ed25519 (RFC 8032). Key ids: first 16 hex digits of SHA-256 of the raw public key.
- Secret check value (KCV): HMAC-SHA256(secret, "vinculo linkage secret check v1"), first
  16 hex digits. It lets the service refuse batches made with another secret without
  learning anything usable about the secret (it is 256 random bits).
- Sealing to an X25519 public key (ECIES): ephemeral X25519, HKDF-SHA256 over the shared
  secret (salt = ephemeral_pub || recipient_pub, info = b"vinculo seal v1|" + context),
  ChaCha20-Poly1305 with a random 96-bit nonce. Sealed = ephemeral_pub(32) || nonce(12) || ct.
  ``Sealer`` reuses one ephemeral key for many small messages (one batch's locators), each with
  its own nonce: the derived key is computed once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vinculo_common.errors import ConfigError, IntegrityError

__all__ = [
    "Opener",
    "Sealer",
    "key_id",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
    "secret_check_value",
    "sign",
    "verify",
    "write_private",
    "write_public",
]

_KCV_LABEL = b"vinculo linkage secret check v1"


def secret_check_value(secret: bytes) -> str:
    """Public check value of the linkage secret.

    >>> secret_check_value(bytes(32))
    'af9ab902e37402e3'
    """
    return hmac.new(secret, _KCV_LABEL, hashlib.sha256).hexdigest()[:16]


def _raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | X25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def private_key_pem(
    key: Ed25519PrivateKey | X25519PrivateKey, passphrase: bytes | None = None
) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def public_key_pem(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private(path: Path, data: bytes) -> None:
    """Write private material readable by the owner only (0600), created atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def load_private_key(
    path: Path, passphrase: bytes | None = None
) -> Ed25519PrivateKey | X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except FileNotFoundError:
        raise ConfigError(f"falta la clave privada {path} (private key missing)") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"clave privada ilegible {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        raise ConfigError(f"{path}: se esperaba una clave Ed25519 o X25519")
    return key


def load_public_key(path_or_pem: Path | bytes) -> Ed25519PublicKey | X25519PublicKey:
    try:
        pem = path_or_pem.read_bytes() if isinstance(path_or_pem, Path) else path_or_pem
        key = serialization.load_pem_public_key(pem)
    except FileNotFoundError:
        raise ConfigError(f"falta la clave pública {path_or_pem!s} (public key missing)") from None
    except ValueError as exc:
        raise ConfigError(f"clave pública ilegible: {exc}") from None
    if not isinstance(key, Ed25519PublicKey | X25519PublicKey):
        raise ConfigError("se esperaba una clave pública Ed25519 o X25519")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


def verify(key: Ed25519PublicKey, signature: bytes, message: bytes, what: str) -> None:
    """Raise IntegrityError unless ``signature`` is a valid Ed25519 signature of ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise IntegrityError(f"firma inválida: {what} (invalid signature)") from None


def _derive(shared: bytes, eph_pub: bytes, recipient_pub: bytes, context: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=eph_pub + recipient_pub,
        info=b"vinculo seal v1|" + context,
    ).derive(shared)


class Sealer:
    """Seal many messages to one X25519 public key with one ephemeral key.

    >>> priv = X25519PrivateKey.generate()
    >>> sealed = Sealer(priv.public_key(), b"demo").seal(b"hola", aad=b"")
    >>> Opener(priv, b"demo").open(sealed, aad=b"")
    b'hola'
    """

    def __init__(self, recipient: X25519PublicKey, context: bytes) -> None:
        eph = X25519PrivateKey.generate()
        self._eph_pub = _raw_public(eph.public_key())
        shared = eph.exchange(recipient)
        self._aead = ChaCha20Poly1305(
            _derive(shared, self._eph_pub, _raw_public(recipient), context)
        )

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return self._eph_pub + nonce + self._aead.encrypt(nonce, plaintext, aad)


class Opener:
    """Open what a Sealer sealed to our public key; caches the key per ephemeral key."""

    def __init__(self, private: X25519PrivateKey, context: bytes) -> None:
        self._private = private
        self._pub = _raw_public(private.public_key())
        self._context = context
        self._cache: dict[bytes, ChaCha20Poly1305] = {}

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < 32 + 12 + 16:
            raise IntegrityError("paquete sellado truncado (sealed data too short)")
        eph_pub, nonce, ct = sealed[:32], sealed[32:44], sealed[44:]
        aead = self._cache.get(eph_pub)
        if aead is None:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
            aead = ChaCha20Poly1305(_derive(shared, eph_pub, self._pub, self._context))
            self._cache[eph_pub] = aead
        try:
            return aead.decrypt(nonce, ct, aad)
        except InvalidTag:
            raise IntegrityError(
                "no se pudo abrir: clave equivocada o datos alterados (wrong key or tampered data)"
            ) from None
