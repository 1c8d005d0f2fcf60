"""Tables of the tamper-evident audit log (see docs/audit.md for the hash-chain encoding).

``AuditEntry`` rows are append-only and chained by hash; ``AuditCheckpoint`` rows pin the hash
of an entry with the service's Ed25519 signature. Neither table ever holds a token or an
identifier: actors are labels (user / token id / role), objects are ids (pseudonyms, request
ids, upload ids).
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime

__all__ = ["AuditCheckpoint", "AuditCheckpointPublic", "AuditEntry", "AuditEntryPublic"]


class AuditEntry(SQLModel, table=True):
    """One line of the log. ``seq`` is assigned by ``linkage_service.audit.record``."""

    __tablename__ = "audit_entry"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False, index=True))
    actor: str = Field(sa_column=sa.Column(sa.String(200), nullable=False, index=True))
    action: str = Field(sa_column=sa.Column(sa.String(200), nullable=False, index=True))
    # Canonical JSON text of a list of ids: stored as text so the hashed bytes are exact.
    objects: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    outcome: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    prev_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    entry_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))

    @property
    def object_ids(self) -> list[str]:
        return [str(x) for x in json.loads(self.objects)]


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement "entry ``seq`` of the log has hash ``entry_hash``"."""

    __tablename__ = "audit_checkpoint"

    number: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, unique=True))
    entry_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    key_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    signature: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))


class AuditEntryPublic(SQLModel):
    seq: int
    at: datetime
    actor: str
    action: str
    objects: list[str]
    reason: str | None
    outcome: str
    prev_hash: str
    entry_hash: str


class AuditCheckpointPublic(SQLModel):
    number: int
    seq: int
    entry_hash: str
    at: datetime
    key_id: str
    signature: str
