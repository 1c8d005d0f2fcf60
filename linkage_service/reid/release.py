"""Releasing and fetching re-identification packages.

On approval the service groups the persons' current records by holding source and builds, per
source, a package sealed to that source's X25519 box key and signed with the service's Ed25519
key (format: ``vinculo_common.reid_package``, docs/reid.md). The service stores the package but
cannot read it; only a token of that source can fetch it, only while the request is approved
and not expired.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.bank.persons import records_of_persons
from linkage_service.models import Source
from linkage_service.models.reid import ReidPackage, ReidRequest
from linkage_service.reid.requests import effective_status, get_request, refusals_recorded
from vinculo_common.crypto import load_public_key
from vinculo_common.errors import ConfigError, Conflict, NotFound, PermissionDenied
from vinculo_common.reid_package import PackageRecord, build_package

__all__ = ["RecordsOf", "download_package", "fetch_package", "packages_waiting",
           "release_packages", "source_box_key"]

RecordsOf = Callable[[Session, list[str]], Iterable[tuple[str, bytes, bytes]]]
_PKG: sa.Table = ReidPackage.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]


def _bank_records_of(session: Session, person_ids: list[str]) -> list[tuple[str, bytes, bytes]]:
    return records_of_persons(session, person_ids)


def source_box_key(session: Session, source: str) -> X25519PublicKey:
    """The X25519 key a source registered (packages are sealed to it)."""
    pem = session.execute(
        sa.select(_SRC.c.box_public_key_pem).where(_SRC.c.name == source)
    ).scalar_one_or_none()
    if pem is None:
        raise NotFound("fuente no registrada (unknown source)")
    key = load_public_key(str(pem).encode())
    if not isinstance(key, X25519PublicKey):
        raise ConfigError(f"la clave de cifrado registrada de {source} no es X25519")
    return key


def release_packages(
    session: Session,
    *,
    request: ReidRequest,
    signer: Ed25519PrivateKey,
    now: datetime,
    records_of: RecordsOf | None = None,
) -> list[ReidPackage]:
    """Build and store one package per holding source; each gets its audit entry.

    ``records_of(session, [pseudonym])`` gives ``(source, record_ref, locator)`` of a person's
    current records (default: the bank's ``records_of_persons``, which follows lineage).
    """
    lookup = records_of or _bank_records_of
    wanted = set(request.sources or [])
    by_source: dict[str, list[PackageRecord]] = {}
    for person in request.persons:
        for source, ref, locator in lookup(session, [person]):
            if wanted and source not in wanted:
                continue
            by_source.setdefault(source, []).append(
                PackageRecord(person_id=person, record_ref=bytes(ref), locator=bytes(locator))
            )
    packages = []
    for source in sorted(by_source):
        content = build_package(
            request_id=request.id, source=source, records=by_source[source],
            recipient=source_box_key(session, source), signer=signer, issued_at=now,
        )
        pkg = ReidPackage(
            request_id=request.id, source=source, record_count=len(by_source[source]),
            sha256=hashlib.sha256(content).hexdigest(), content=content, issued_at=now,
        )
        session.add(pkg)
        packages.append(pkg)
        record(session, actor="service", action="reid.package.release",
               objects=[request.id, f"source:{source}"], now=now)
    session.flush()
    return packages


def fetch_package(
    session: Session,
    *,
    request_id: str,
    source: str,
    caller: Actor,
    now: datetime | None = None,
) -> ReidPackage:
    """The package of ``source`` for an approved, unexpired request, for a token of that source.

    Raises PermissionDenied (another source's token), Conflict (not approved, denied, expired)
    or NotFound (unknown request, or the source holds none of the persons).
    """
    at = (now or datetime.now(UTC)).astimezone(UTC)
    if caller.source != source:
        raise PermissionDenied(
            "solo un token de carga de la fuente titular puede descargar su paquete "
            "(only the holding source's uploader token may fetch)"
        )
    req = get_request(session, request_id=request_id)
    status = effective_status(req, now=at)
    if status == "pending":
        raise Conflict("la solicitud aún no está aprobada (not approved yet)")
    if status != "approved":
        raise Conflict(f"la solicitud no permite descargar paquetes: {status}")
    pkg = session.execute(
        sa.select(ReidPackage).where(_PKG.c.request_id == req.id, _PKG.c.source == source)
    ).scalar_one_or_none()
    if pkg is None:
        raise NotFound("la fuente no tiene registros de estas personas (no package for source)")
    pkg.fetch_count += 1
    if pkg.first_fetched_at is None:
        pkg.first_fetched_at = at
    session.add(pkg)
    session.flush()
    record(session, actor=caller.label, action="reid.package.fetch",
           objects=[req.id, f"source:{source}"], now=at)
    return pkg


def packages_waiting(session: Session, *, caller: Actor, now: datetime | None = None
                     ) -> list[tuple[ReidPackage, ReidRequest]]:
    """The packages of the caller's source whose request is approved and unexpired, with the
    request; ``reid.package.list``."""
    rows = session.execute(
        sa.select(ReidPackage, ReidRequest)
        .join(ReidRequest, ReidRequest.id == ReidPackage.request_id)  # type: ignore[arg-type]
        .where(_PKG.c.source == (caller.source or ""))
    ).all()
    out = [(pkg, req) for pkg, req in rows if effective_status(req, now=now) == "approved"]
    record(session, actor=caller.label, action="reid.package.list",
           objects=[f"source:{caller.source}"])
    return out


def download_package(session: Session, *, request_id: str, source: str, caller: Actor
                     ) -> ReidPackage:
    """``fetch_package``, a refusal recorded as ``reid.package.fetch``."""
    with refusals_recorded(session, caller, "reid.package.fetch",
                           [request_id, f"source:{source}"]):
        return fetch_package(session, request_id=request_id, source=source, caller=caller)
