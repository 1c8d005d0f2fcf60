"""Registering and reading sources."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlmodel import Session, col, select

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.models import Source, SourceCreate, SourcePublic, utcnow
from vinculo_common.crypto import key_id, load_public_key
from vinculo_common.errors import Conflict, InputError, NotFound
from vinculo_common.keyfiles import check_source_name

__all__ = ["get_source", "list_sources", "read_sources", "register_source", "source_public",
           "source_signing_key"]


def register_source(
    session: Session, *, source: SourceCreate, now: datetime | None = None
) -> Source:
    """Add a source with its public keys; Conflict if the name is taken.

    Example: ``register_source(session, source=SourceCreate(name="reta", secret_check="…",
    signing_public_key_pem=pem1, box_public_key_pem=pem2))``
    """
    check_source_name(source.name)
    signing = load_public_key(source.signing_public_key_pem.encode())
    box = load_public_key(source.box_public_key_pem.encode())
    if not isinstance(signing, Ed25519PublicKey):
        raise InputError("la clave de firma de la fuente debe ser Ed25519 (signing.pub)")
    if not isinstance(box, X25519PublicKey):
        raise InputError("la clave de cifrado de la fuente debe ser X25519 (box.pub)")
    check = source.secret_check.strip()
    if not check or len(check) > 64 or any(c not in "0123456789abcdef" for c in check):
        raise InputError("valor de control del secreto (.kcv) inválido")
    if session.exec(select(Source).where(Source.name == source.name)).first() is not None:
        raise Conflict(f"la fuente {source.name} ya está registrada (source exists)")
    row = Source(
        name=source.name,
        secret_check=check,
        signing_public_key_pem=source.signing_public_key_pem,
        box_public_key_pem=source.box_public_key_pem,
        signing_key_id=key_id(signing),
        box_key_id=key_id(box),
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get_source(session: Session, *, name: str) -> Source:
    row = session.exec(select(Source).where(Source.name == name)).first()
    if row is None:
        raise NotFound(f"fuente no registrada: {name} (unknown source)")
    return row


def list_sources(session: Session) -> list[Source]:
    return list(session.exec(select(Source).order_by(col(Source.name))).all())


def source_public(row: Source) -> SourcePublic:
    return SourcePublic.model_validate(row, from_attributes=True)


def source_signing_key(row: Source) -> Ed25519PublicKey:
    key = load_public_key(row.signing_public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("clave de firma registrada inválida")
    return key


def read_sources(session: Session, *, actor: Actor) -> list[SourcePublic]:
    """Every registered source for an operator or admin; ``sources.list`` names them."""
    rows = [source_public(row) for row in list_sources(session)]
    record(session, actor=actor.label, action="sources.list",
           objects=[f"source:{r.name}" for r in rows])
    return rows
