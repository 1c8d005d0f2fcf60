"""Linkage schemas (schemas/linkage/*.json) and their fingerprints.

A linkage schema's fingerprint is ``sha256:`` + SHA-256 of its canonical JSON (sorted keys, no
whitespace), so reformatting the file does not change it but any change of content does. Both
sides compute it the same way: the SDK stamps it on each batch, the service accepts only
fingerprints of schemas it knows.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vinculo_common.errors import InputError
from vinculo_common.paths import schemas_dir

__all__ = [
    "DEFAULT_SCHEMA_ID",
    "known_fingerprints",
    "linkage_schema_path",
    "load_linkage_schema",
    "schema_fingerprint",
]

DEFAULT_SCHEMA_ID = "vinculo-v1"


def linkage_schema_path(schema_id: str = DEFAULT_SCHEMA_ID) -> Path:
    path = schemas_dir() / "linkage" / f"{schema_id}.json"
    if not path.is_file():
        raise InputError(f"esquema de enlace desconocido: {schema_id} (unknown linkage schema)")
    return path


def load_linkage_schema(schema_id: str = DEFAULT_SCHEMA_ID) -> dict[str, Any]:
    with open(linkage_schema_path(schema_id), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def schema_fingerprint(schema: dict[str, Any]) -> str:
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def known_fingerprints() -> dict[str, str]:
    """Fingerprint → schema id, for every schema in schemas/linkage/."""
    out: dict[str, str] = {}
    for path in sorted((schemas_dir() / "linkage").glob("*.json")):
        with open(path, encoding="utf-8") as fh:
            out[schema_fingerprint(json.load(fh))] = path.stem
    return out
