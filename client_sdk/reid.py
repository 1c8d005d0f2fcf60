"""Open a re-identification package at the institution, with nothing but its keys directory.

Steps: check the service's signature, decrypt the manifest with the source's X25519 key, open
each sealed locator (``client_sdk.record_encoder.open_locators``, which also checks it against its
record reference) and return the local record ids.

Pinning the service key (who may have signed the package):

1. ``service_public_key`` when the caller passes one: the institution fetched it (for example
   from ``GET /api/v1/service/public-key``) and compared its key id with the one published at
   the key ceremony; ``vinculo reid open --service-key FILE`` passes it.
2. otherwise ``KEYS/service/signing.pub`` from the keys directory (distributed at the ceremony);
3. otherwise refuse (ConfigError): a key fetched from the same server that hands out the
   package, unchecked, proves nothing, so it is never used implicitly.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vinculo_common.crypto import load_public_key
from vinculo_common.errors import ConfigError, IntegrityError
from vinculo_common.keyfiles import KeyDir, check_source_name
from vinculo_common.reid_package import PackageRecord, parse_package

__all__ = ["open_package", "open_package_records", "pinned_service_key"]


def pinned_service_key(
    keys_dir: Path, service_public_key: Ed25519PublicKey | None = None
) -> Ed25519PublicKey:
    """The service key a package must be signed with (see the module's pinning rule)."""
    if service_public_key is not None:
        return service_public_key
    path = KeyDir(Path(keys_dir)).service_signing_pub
    if not path.exists():
        raise ConfigError(
            f"no hay clave pública del servicio fijada ({path} no existe): pase --service-key "
            "con la clave cuyo identificador se publicó en la ceremonia de claves (no pinned "
            "service key)"
        )
    key = load_public_key(path)
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: se esperaba una clave pública Ed25519")
    return key


def open_package_records(
    pkg_bytes: bytes,
    *,
    source: str,
    keys_dir: Path,
    service_public_key: Ed25519PublicKey | None = None,
) -> list[tuple[str, str]]:
    """(person_id, local record_id) for every record of the package, in package order.

    Raises IntegrityError for a forged or altered package, a package for another source, or
    keys of another source.
    """
    from client_sdk.keys import load_box_private
    from client_sdk.record_encoder import open_locators

    check_source_name(source)
    parsed = parse_package(pkg_bytes)
    parsed.verify_signature(pinned_service_key(keys_dir, service_public_key))
    if parsed.source != source:
        raise IntegrityError(
            f"el paquete es para la fuente {parsed.source!r}, no para {source!r} "
            "(package issued to another source)"
        )
    records: list[PackageRecord] = parsed.open_manifest(load_box_private(Path(keys_dir), source))
    ids = open_locators(
        Path(keys_dir), source, [r.locator for r in records], [r.record_ref for r in records]
    )
    return [(r.person_id, rid) for r, rid in zip(records, ids, strict=True)]


def open_package(
    pkg_bytes: bytes,
    *,
    source: str,
    keys_dir: Path,
    service_public_key: Ed25519PublicKey | None = None,
) -> list[str]:
    """The local record ids a package names, after checking signature and keys.

    Example: ``open_package(Path("rq-1.reta.vrp").read_bytes(), source="reta",
    keys_dir=Path("keys"))`` → ``["RETA-2021-000123", ...]``
    """
    return [
        rid
        for _, rid in open_package_records(
            pkg_bytes, source=source, keys_dir=keys_dir, service_public_key=service_public_key
        )
    ]
