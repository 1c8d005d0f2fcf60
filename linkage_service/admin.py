"""The operator's use cases that change state outside a request: register a source from the
public half of its keys, create and revoke API tokens, back up and restore the bank. Each
writes its audit entry (in the same transaction as its change, where there is one);
``vinculo admin …`` and ``vinculo evaluate`` call these.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Engine
from sqlmodel import Session

from linkage_service.audit import record
from linkage_service.auth import create_token, revoke_token
from linkage_service.backup import BackupSummary, backup, restore
from linkage_service.db import make_engine
from linkage_service.models import SourceCreate
from linkage_service.store.sources import register_source
from vinculo_common.errors import ConfigError
from vinculo_common.keyfiles import KeyDir

__all__ = ["backup_bank", "create_api_token", "register_source_from_keys", "restore_bank",
           "revoke_api_token"]


def _read_public(path: Path, what: str) -> str:
    if not path.is_file():
        private = path.with_suffix(".key")
        hint = (" (hay una clave privada al lado: no se usa, entregue solo los archivos "
                "públicos)") if private.exists() else ""
        raise ConfigError(f"falta {what}: {path}{hint}")
    return path.read_text(encoding="ascii").strip()


def register_source_from_keys(
    engine: Engine, *, source: str, keys: Path, actor: str
) -> tuple[str, str, str]:
    """Register ``source`` with the public keys in ``keys`` (never reads a private key).

    Returns (name, signing key id, box key id).
    """
    keydir = KeyDir(keys)
    paths = keydir.source(source)
    create = SourceCreate(
        name=source,
        secret_check=_read_public(keydir.linkage_kcv, "el valor de control del secreto (.kcv)"),
        signing_public_key_pem=_read_public(paths.signing_pub, "la clave pública de firma") + "\n",
        box_public_key_pem=_read_public(paths.box_pub, "la clave pública de cifrado") + "\n",
    )
    with Session(engine) as session:
        row = register_source(session, source=create)
        record(session, actor=actor, action="source.add", objects=[f"source:{row.name}"])
        session.commit()
        return row.name, row.signing_key_id, row.box_key_id


def create_api_token(
    engine: Engine, *, role: str, source: str | None, user: str | None, actor: str
) -> tuple[str, str]:
    """Create a token for ``role``; returns (token, token id). The token is shown once."""
    with Session(engine) as session:
        token, row = create_token(session, role=role, source=source, user_label=user)
        token_id = row.token_id
        record(session, actor=actor, action="token.create",
               objects=[f"token:{token_id}", f"role:{role}"])
        session.commit()
    return token, token_id


def revoke_api_token(engine: Engine, *, token_id: str, actor: str) -> None:
    """Revoke a token by id."""
    with Session(engine) as session:
        revoke_token(session, token_id=token_id)
        record(session, actor=actor, action="token.revoke", objects=[f"token:{token_id}"])
        session.commit()


def _audit_alone(db_url: str, *, actor: str, action: str, objects: list[str]) -> None:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            record(session, actor=actor, action=action, objects=objects)
            session.commit()
    finally:
        engine.dispose()


def backup_bank(db_url: str, output: Path, *, actor: str) -> BackupSummary:
    """An online, consistent backup of the bank to ``output``; audited once written."""
    summary = backup(db_url, output)
    _audit_alone(db_url, actor=actor, action="admin.backup",
                 objects=[f"audit:{summary.audit_last_seq}"])
    return summary


def restore_bank(db_url: str, source: Path, *, public_key: Ed25519PublicKey | None,
                 actor: str) -> tuple[BackupSummary, list[str]]:
    """Restore a verified backup into an empty database; audited in the restored log."""
    summary, notes = restore(db_url, source, public_key=public_key)
    _audit_alone(db_url, actor=actor, action="admin.restore",
                 objects=[f"audit:{summary.audit_last_seq}"])
    return summary, notes
