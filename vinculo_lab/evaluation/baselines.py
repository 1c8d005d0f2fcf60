"""The two baselines vinculo must beat, on the very records of an evaluation.

- **Exact document** (``exact_document``): records whose document numbers are equal once
  spaces, dashes, dots and case are removed are one person (all records sharing a number, in
  any registry); a record without a number is alone. What an analyst does with a spreadsheet.
- **Plain clkhash + anonlink** (``clkhash_anonlink``): what a new user of the two libraries
  does, following their tutorials. Every identity column the export has (given names, each
  surname, sex, birth date, document number) becomes one clkhash v3 field (upper-cased text,
  bigrams, 1024-bit filter, BLAKE2b, the same bits per bigram for every field; the birth date
  rewritten as ``YYYYMMDD`` when it reads as a date); anonlink's ``find_candidate_pairs``
  (Dice) over the registries and ``greedy_solve``, which links at most one record per registry
  into a group (its one-to-one model: a registry's duplicate entries stay apart). The
  threshold is swept and the **best** F1 is reported, a choice no user could make without the
  truth: the baseline at its most favourable.

Both see every record of the exports, those vinculo's SDK rejected included (a baseline that
keeps a row vinculo refused is a fair point against vinculo). Plaintext only: a lab tool.

>>> rows = {("a", "1"): {"numero_documento": "12-345"}, ("b", "7"): {"numero_documento": "12345"},
...         ("b", "8"): {"numero_documento": ""}}
>>> labels = exact_document(rows)
>>> labels[("a", "1")] == labels[("b", "7")] != labels[("b", "8")]
True
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vinculo_lab.evaluation.metrics import pairwise_scores

__all__ = ["BASELINE_THRESHOLDS", "CLK_COLUMNS", "baseline_scores", "clkhash_anonlink",
           "exact_document", "plain_birth_date"]

RecordKey = tuple[str, str]
# Columns a plain clkhash schema encodes, when the export has them (never places or events).
CLK_COLUMNS = ("nombres", "apellido_paterno", "apellido_materno", "sexo", "fecha_nacimiento",
               "numero_documento")
# Synthetic data only: a fixed secret so a baseline measurement repeats exactly.
BASELINE_SECRET = "vinculo-baseline"  # noqa: S105
BASELINE_THRESHOLDS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_DMY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


def exact_document(rows: Mapping[RecordKey, Mapping[str, str]]) -> dict[RecordKey, str]:
    """Cluster labels: records with the same cleaned document number share one."""
    labels: dict[RecordKey, str] = {}
    for key, row in rows.items():
        number = _NOT_ALNUM.sub("", (row.get("numero_documento") or "").upper())
        labels[key] = f"doc:{number}" if number else f"alone:{key[0]}:{key[1]}"
    return labels


def plain_birth_date(value: str) -> str:
    """``YYYYMMDD`` for ``YYYY-MM-DD`` or ``DD/MM/YYYY`` (zero-padded, not checked against a
    calendar), otherwise the text as written, stripped.

    >>> plain_birth_date("5/3/1990"), plain_birth_date("1990-03-05"), plain_birth_date("1990")
    ('19900305', '19900305', '1990')
    """
    if match := _ISO.match(value):
        y, m, d = match.groups()
    elif match := _DMY.match(value):
        d, m, y = match.groups()
    else:
        return value.strip()
    return f"{y}{int(m):02d}{int(d):02d}"


def _plain_schema(columns: Sequence[str]) -> Any:
    from clkhash import schema as clk_schema

    fields = [{
        "identifier": column,
        "format": {"type": "string", "encoding": "utf-8", "case": "mixed"},
        "hashing": {"comparison": {"type": "ngram", "n": 2},
                    "strategy": {"bitsPerToken": 20}, "hash": {"type": "blakeHash"}},
    } for column in columns]
    return clk_schema.from_json_dict({
        "version": 3,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256",
                                         "info": "c2NoZW1hX2V4YW1wbGU=",  # clkhash's example
                                         "salt": "dmluY3Vsby1iYXNlbGluZQ==", "keySize": 64}},
        "features": fields,
    })


def clkhash_anonlink(rows: Mapping[RecordKey, Mapping[str, str]], *,
                     thresholds: Sequence[float] = BASELINE_THRESHOLDS,
                     truth: Mapping[RecordKey, str] | None = None,
                     secret: str = BASELINE_SECRET,
                     ) -> list[tuple[float, dict[RecordKey, str]]]:
    """Cluster labels of plain clkhash + anonlink at each threshold: ``[(threshold, labels)]``.

    Registries are the ``source`` part of the keys, in sorted order. ``truth`` is unused (kept
    out of the linkage on purpose); scoring is :func:`baseline_scores`'s job. ``secret``: the
    shared clkhash secret; fixed by default so a measurement repeats exactly (the bits change
    with it, the quality only by chance: about ±0.005 F1 between secrets).
    """
    import anonlink
    from clkhash.clk import generate_clks

    del truth
    keys = list(rows)
    columns = [c for c in CLK_COLUMNS if any((rows[k].get(c) or "").strip() for k in keys)]
    pii = []
    for key in keys:
        row = rows[key]
        values = []
        for column in columns:
            value = " ".join((row.get(column) or "").upper().split())
            values.append(plain_birth_date(value) if column == "fecha_nacimiento" else value)
        pii.append(values)
    clks = generate_clks(pii, _plain_schema(columns), secret, validate=False)
    sources = sorted({k[0] for k in keys})
    index = {s: i for i, s in enumerate(sources)}
    datasets: list[list[Any]] = [[] for _ in sources]
    where: list[list[RecordKey]] = [[] for _ in sources]
    for key, clk in zip(keys, clks, strict=True):
        datasets[index[key[0]]].append(clk)
        where[index[key[0]]].append(key)
    sims, dset_is, rec_is = anonlink.candidate_generation.find_candidate_pairs(
        datasets, anonlink.similarities.dice_coefficient, min(thresholds))
    sim = np.frombuffer(sims, dtype=np.float64) if len(sims) else np.zeros(0)
    out = []
    for threshold in sorted(thresholds):
        keep = np.flatnonzero(sim >= threshold)
        subset = (array("d", sim[keep].tobytes()),
                  tuple(_take(a, keep) for a in dset_is),
                  tuple(_take(a, keep) for a in rec_is))
        labels = {key: f"alone:{key[0]}:{key[1]}" for key in keys}
        for g, group in enumerate(anonlink.solving.greedy_solve(subset)):
            for dataset, record in group:
                labels[where[dataset][record]] = f"g{g}"
        out.append((threshold, labels))
    return out


def _take(values: array[int], keep: np.ndarray) -> array[int]:
    """``values[keep]`` as an ``array`` of the same type code (what anonlink's solver reads)."""
    if not len(values):
        return array(values.typecode)
    picked = np.frombuffer(values, dtype=np.dtype(values.typecode))[keep]
    return array(values.typecode, picked.tobytes())


def baseline_scores(rows: Mapping[RecordKey, Mapping[str, str]],
                    truth: Mapping[RecordKey, str]) -> dict[str, Any]:
    """Both baselines scored against ``truth`` on ``rows`` (every record of the exports).

    Returns ``{"exact_document": scores, "clkhash_anonlink": {"best": scores + threshold,
    "by_threshold": [...]}}`` where scores are :meth:`Scores.as_dict` of all pairs.
    """
    rows = {k: v for k, v in rows.items() if k in truth}
    exact = pairwise_scores(truth, exact_document(rows)).as_dict()
    sweep: list[dict[str, Any]] = []
    for threshold, labels in clkhash_anonlink(rows):
        result = pairwise_scores(truth, labels)
        sweep.append({**result.as_dict(), "threshold": threshold, "_f1": result.all_pairs.f1})
    best = max(sweep, key=lambda s: s["_f1"])
    for entry in sweep:
        del entry["_f1"]
    return {"records": len(rows), "exact_document": exact,
            "clkhash_anonlink": {"best": best, "by_threshold": sweep,
                                 "note": "best F1 over the thresholds (oracle choice)"}}
