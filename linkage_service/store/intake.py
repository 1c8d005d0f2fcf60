"""Receiving a batch (``POST /uploads``, ``vinculo upload``): the token's own source, the schema
the bank accepts now, and the one audit entry of the upload. While a schema migration is open a
batch of its target schema is a migration batch (store.migration_batches), held beside the
records it re-encodes; any other is stored as usual (store.uploads).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlmodel import Session

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.logs import log_event
from linkage_service.models import UploadPublic
from linkage_service.store.migration_batches import store_migration_batch, upload_target
from linkage_service.store.uploads import (
    check_batch,
    find_upload,
    source_of,
    store_batch,
    upload_public,
)
from vinculo_common.batch import read_batch
from vinculo_common.errors import Conflict

__all__ = ["receive_batch"]


def receive_batch(session: Session, *, actor: Actor, body: bytes, max_records: int,
                  schema_fingerprints: set[str]) -> tuple[UploadPublic, bool]:
    """Read, check and store a batch of the token's own source, record ``upload.store`` (a
    migration batch: ``upload.migration``; a batch already stored: ``upload.repeat``) and commit;
    ``(upload, created)``. ``schema_fingerprints``: the service's configured schema, until a
    migration switched the bank to another.

    The same batch arriving twice at once is stored once: the loser finds the winner's upload
    (and records ``upload.repeat``).
    A migration switched or cancelled during the upload refuses it (Conflict) with nothing kept.
    """
    source = source_of(session, actor)
    batch = read_batch(body, max_records=max_records)
    fingerprint = str(batch.header.get("schema_fingerprint", ""))
    target = upload_target(session, fingerprint=fingerprint, configured=schema_fingerprints)
    check_batch(batch, source=source, schema_fingerprints=set(target.fingerprints))
    migration = [f"schema_migration:{target.migration_id}"] if target.migration_id else []
    try:
        if target.migration_id is not None:
            upload, created = store_migration_batch(
                session, batch=batch, source=source, migration_id=target.migration_id,
                uploaded_by=actor.token_id)
        else:
            upload, created = store_batch(session, batch=batch, source=source,
                                          uploaded_by=actor.token_id)
        if upload_target(session, fingerprint=fingerprint,
                         configured=schema_fingerprints) != target:
            raise Conflict("el esquema de enlace del banco cambió durante la carga: no se guardó "
                           "nada, vuelva a cargar (the bank's schema changed meanwhile)")
        assert upload.id is not None
        action = ("upload.migration" if migration else "upload.store") if created \
            else "upload.repeat"
        record(session, actor=actor.label, action=action,
               objects=[f"upload:{upload.id}", f"source:{source.name}", *migration])
        session.commit()
    except DBIntegrityError:
        session.rollback()
        assert source.id is not None
        again = find_upload(session, source_id=source.id,
                            body_sha256=str(batch.header["body_sha256"]))
        if again is None:
            raise
        upload, created = again, False
        # Audited as any repeat: the entry written above went with the rolled-back INSERT.
        record(session, actor=actor.label, action="upload.repeat",
               objects=[f"upload:{upload.id}", f"source:{source.name}", *migration])
        session.commit()
    log_event("upload.stored" if created else "upload.repeated", upload_id=upload.id,
              source=source.name, record_count=upload.record_count, new_count=upload.new_count,
              updated_count=upload.updated_count, level=logging.INFO)
    return upload_public(upload, source_name=source.name), created
