"""The tamper-evident audit log: append with ``record``, sign with ``checkpoint``, check with
``verify``. The exact hashed and signed bytes are in ``chain`` and docs/audit.md.

>>> from linkage_service.audit import GENESIS
>>> len(GENESIS)
64
"""

from linkage_service.audit.chain import GENESIS, OUTCOMES, EntryFields, entry_hash
from linkage_service.audit.log import POLICY_KEY, CheckpointPolicy, checkpoint, record
from linkage_service.audit.verify import Anchor, VerifyReport, load_rows, verify

__all__ = [
    "GENESIS",
    "OUTCOMES",
    "POLICY_KEY",
    "Anchor",
    "CheckpointPolicy",
    "EntryFields",
    "VerifyReport",
    "checkpoint",
    "entry_hash",
    "load_rows",
    "record",
    "verify",
]
