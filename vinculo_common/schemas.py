"""Linkage schemas (schemas/linkage/*.json) and their fingerprints.

A linkage schema's fingerprint is ``sha256:`` + SHA-256 of its canonical JSON (sorted keys, no
whitespace), so reformatting the file does not change it but any change of content does. Both
sides compute it the same way: the SDK stamps it on each batch, the service accepts only
fingerprints of schemas it knows.

A hardened schema may also carry its linkage calibration, ``vinculo.linkage.dice_calibration``:
knots ``[stored Dice, reference Dice]`` of a piecewise-linear map from the Dice of its stored
encodings to the scale the linkage core's Dice constants are tuned on (plain vinculo-v1 CLKs).
Diffusion compresses Dice; without the map true pairs fall under the floor (docs/security.md).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vinculo_common.errors import InputError, SchemaMismatch
from vinculo_common.paths import schemas_dir

__all__ = [
    "DEFAULT_SCHEMA_ID",
    "calibration_knots_valid",
    "dice_calibration",
    "dice_calibration_of",
    "known_fingerprints",
    "linkage_schema_path",
    "load_linkage_schema",
    "schema_fingerprint",
]

DEFAULT_SCHEMA_ID = "vinculo-v4"


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


def calibration_knots_valid(knots: Sequence[Sequence[float]]) -> bool:
    """Knots ``(stored, reference)`` from (0, 0) to (1, 1), strictly increasing in both: an
    invertible map (the schema's ``dice_calibration`` and ``LinkParams.dice_calibration``).

    >>> calibration_knots_valid([(0, 0), (0.6, 0.7), (1, 1)])
    True
    >>> calibration_knots_valid([(0, 0), (0.6, 0.7), (0.5, 0.8), (1, 1)])
    False
    """
    try:
        pairs = [tuple(float(x) for x in knot) for knot in knots]
    except (TypeError, ValueError):  # not numbers, or not a sequence of pairs
        return False
    return (len(pairs) >= 2 and all(len(k) == 2 for k in pairs)
            and pairs[0] == (0.0, 0.0) and pairs[-1] == (1.0, 1.0)
            and all(b[0] > a[0] and b[1] > a[1] for a, b in itertools.pairwise(pairs)))


def dice_calibration(schema: Mapping[str, Any]) -> tuple[tuple[float, float], ...] | None:
    """The schema's Dice calibration knots (``vinculo.linkage.dice_calibration``), checked;
    None when it declares none (its Dice is already on the reference scale).

    Knots run from (0, 0) to (1, 1) and are strictly increasing in both coordinates, so the
    map is invertible (``linkage_service.linkage.LinkParams.dice_calibration``).

    >>> dice_calibration({"vinculo": {"linkage": {"dice_calibration": [[0, 0], [0.6, 0.7],
    ...                                                                [1, 1]]}}})
    ((0.0, 0.0), (0.6, 0.7), (1.0, 1.0))
    >>> dice_calibration({"vinculo": {}}) is None
    True
    """
    raw = ((schema.get("vinculo") or {}).get("linkage") or {}).get("dice_calibration")
    if raw is None:
        return None
    try:
        knots = tuple((float(a), float(b)) for a, b in raw)
    except (TypeError, ValueError) as exc:
        raise SchemaMismatch("vinculo.linkage.dice_calibration: lista de pares [guardado, "
                             "referencia] (list of [stored, reference] pairs)") from exc
    if not calibration_knots_valid(knots):
        raise SchemaMismatch("vinculo.linkage.dice_calibration: de (0, 0) a (1, 1), "
                             "estrictamente creciente (from (0, 0) to (1, 1), strictly increasing)")
    return knots


def dice_calibration_of(schema_id: Any) -> tuple[tuple[float, float], ...] | None:
    """``dice_calibration`` of the schema named ``schema_id`` (as a job's parameters record
    it, ``linkage_schema``); None when the id is missing or empty (an older job).

    >>> dice_calibration_of(None) is None, dice_calibration_of("vinculo-v1") is None
    (True, True)
    """
    if not schema_id:
        return None
    return dice_calibration(load_linkage_schema(str(schema_id)))
