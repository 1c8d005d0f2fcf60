"""Database models, one module per resource, each a family after FastAPI's full-stack template:
``XBase`` (shared fields) / ``XCreate`` (input) / ``X`` (``table=True``) / ``XPublic`` (output).

Only ``*Public`` models are ever returned by the API, so token hashes, encodings and sealed
locators cannot leak through a response by accident.

Every module of this package is imported here, by name, so ``SQLModel.metadata`` (used by
Alembic and by the tests that compare models with migrations) always holds every table; a new
module is added to the import below (tests/test_layers.py fails on one that is missing).
"""

from __future__ import annotations

# audit, bank, custody, migration and reid are imported for their tables (SQLModel.metadata),
# not their names.
from linkage_service.models import audit, bank, custody, migration, reid  # noqa: F401
from linkage_service.models.common import UTCDateTime, utcnow
from linkage_service.models.record import EncodedRecord, EncodedRecordPublic
from linkage_service.models.source import Source, SourceCreate, SourcePublic
from linkage_service.models.token import ROLES, ApiToken, ApiTokenPublic, Role
from linkage_service.models.upload import Upload, UploadPublic

__all__ = [
    "ROLES",
    "ApiToken",
    "ApiTokenPublic",
    "EncodedRecord",
    "EncodedRecordPublic",
    "Role",
    "Source",
    "SourceCreate",
    "SourcePublic",
    "UTCDateTime",
    "Upload",
    "UploadPublic",
    "utcnow",
]
