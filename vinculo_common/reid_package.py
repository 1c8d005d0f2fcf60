"""The re-identification package the service releases to one holding institution: built by the
service, opened by the SDK. A clear header, a manifest sealed to the source's X25519 box key
(aad: the header) and the service's Ed25519 signature over all of it; the byte layout and the
manifest are in docs/reid.md. The service never sees a record id: the locators inside open only
with the source's own key.

"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from vinculo_common.batch import LOCATOR_SIZE, RECORD_REF_SIZE, canonical_json
from vinculo_common.crypto import Opener, Sealer, key_id, sign, verify
from vinculo_common.errors import IntegrityError

__all__ = [
    "PACKAGE_CONTEXT",
    "PACKAGE_MAGIC",
    "PackageRecord",
    "ParsedPackage",
    "build_package",
    "parse_package",
]

PACKAGE_MAGIC = b"VNCLRID1"
PACKAGE_CONTEXT = b"vinculo reid package v1"
PACKAGE_VERSION = 1
SIGNATURE_SIZE = 64
MAX_PACKAGE = 64 << 20


@dataclass(frozen=True)
class PackageRecord:
    """One record of a person, as the source uploaded it (opaque to the service)."""

    person_id: str
    record_ref: bytes
    locator: bytes


def build_package(
    *,
    request_id: str,
    source: str,
    records: Sequence[PackageRecord],
    recipient: X25519PublicKey,
    signer: Ed25519PrivateKey,
    issued_at: datetime,
) -> bytes:
    """Seal the manifest to ``recipient`` and sign the whole package with ``signer``.

    >>> from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    >>> from datetime import UTC
    >>> pkg = build_package(request_id="rq-1", source="reta", records=[],
    ...     recipient=X25519PrivateKey.generate().public_key(),
    ...     signer=Ed25519PrivateKey.generate(), issued_at=datetime(2025, 1, 1, tzinfo=UTC))
    >>> pkg[:8]
    b'VNCLRID1'
    """
    stamp = issued_at.isoformat(timespec="seconds")
    header = canonical_json(
        {
            "format": "vinculo-reid-package",
            "version": PACKAGE_VERSION,
            "request_id": request_id,
            "source": source,
            "issued_at": stamp,
            "service_key_id": key_id(signer.public_key()),
            "recipient_key_id": key_id(recipient),
        }
    )
    manifest = canonical_json(
        {
            "format": "vinculo-reid-manifest",
            "request_id": request_id,
            "source": source,
            "issued_at": stamp,
            "records": [
                {"person_id": r.person_id, "record_ref": r.record_ref.hex(),
                 "locator": r.locator.hex()}
                for r in records
            ],
        }
    )
    head = PACKAGE_MAGIC + struct.pack(">I", len(header)) + header
    sealed = Sealer(recipient, PACKAGE_CONTEXT).seal(manifest, aad=head)
    signed = head + struct.pack(">I", len(sealed)) + sealed
    return signed + sign(signer, signed)


@dataclass(frozen=True)
class ParsedPackage:
    """A package split into its parts; nothing is trusted until ``verify_signature``."""

    header: dict[str, Any]
    head: bytes
    sealed: bytes
    signed_part: bytes
    signature: bytes

    @property
    def source(self) -> str:
        return str(self.header.get("source"))

    @property
    def request_id(self) -> str:
        return str(self.header.get("request_id"))

    def verify_signature(self, service_key: Ed25519PublicKey) -> None:
        """Raise IntegrityError unless the service's key signed this package."""
        if self.header.get("service_key_id") != key_id(service_key):
            raise IntegrityError(
                "el paquete no está firmado con la clave fijada del servicio (package signed "
                f"by key {self.header.get('service_key_id')!r}, pinned {key_id(service_key)!r})"
            )
        verify(service_key, self.signature, self.signed_part, "paquete de reidentificación")

    def open_manifest(self, box_private: X25519PrivateKey) -> list[PackageRecord]:
        """Decrypt with the source's box key; check the manifest matches the signed header."""
        plain = Opener(box_private, PACKAGE_CONTEXT).open(self.sealed, aad=self.head)
        try:
            manifest = json.loads(plain)
            if (
                manifest.get("format") != "vinculo-reid-manifest"
                or manifest.get("request_id") != self.header.get("request_id")
                or manifest.get("source") != self.header.get("source")
            ):
                raise ValueError("manifest does not match header")
            records = [
                PackageRecord(
                    person_id=str(r["person_id"]),
                    record_ref=bytes.fromhex(r["record_ref"]),
                    locator=bytes.fromhex(r["locator"]),
                )
                for r in manifest["records"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError("manifiesto del paquete inválido (bad package manifest)") from None
        for r in records:
            if len(r.record_ref) != RECORD_REF_SIZE or len(r.locator) != LOCATOR_SIZE:
                raise IntegrityError("manifiesto del paquete inválido (bad record sizes)")
        return records


def parse_package(data: bytes) -> ParsedPackage:
    """Split a package into its parts; raise IntegrityError when it is malformed."""
    bad = IntegrityError("no es un paquete de reidentificación válido (malformed package)")
    if len(data) > MAX_PACKAGE or len(data) < 8 + 4 + 4 + SIGNATURE_SIZE:
        raise bad
    if data[:8] != PACKAGE_MAGIC:
        raise bad
    (hlen,) = struct.unpack(">I", data[8:12])
    head_end = 12 + hlen
    if head_end + 4 + SIGNATURE_SIZE > len(data):
        raise bad
    (slen,) = struct.unpack(">I", data[head_end : head_end + 4])
    sealed_end = head_end + 4 + slen
    if sealed_end + SIGNATURE_SIZE != len(data):
        raise bad
    try:
        header = json.loads(data[12:head_end])
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if (
        not isinstance(header, dict)
        or header.get("format") != "vinculo-reid-package"
        or header.get("version") != PACKAGE_VERSION
    ):
        raise bad
    return ParsedPackage(
        header=header,
        head=data[:head_end],
        sealed=data[head_end + 4 : sealed_end],
        signed_part=data[:sealed_end],
        signature=data[sealed_end:],
    )
