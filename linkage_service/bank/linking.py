"""The executor: hands the bank's arrays to the pure linkage core and reads its result back.

This is the only module of the bank that knows the shape of ``linkage_service.linkage.link``'s
inputs and result; the rest of the bank speaks ``BankRecords`` / ``ClusterOutcome``. Running the
core elsewhere (a distributed engine, partitioned by blocks) means replacing this executor.

Labels: the core keeps an existing person's label on the cluster holding most of its records and
names other clusters ``new-k``; the bank turns labels into clusters and decides pseudonyms and
lineage itself (``bank.plan``), so a split part never silently inherits an old pseudonym.
Thresholds: chosen by the core from the data unless the job's parameters fix them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from linkage_service.bank.records import BankRecords, DecisionPairs
from linkage_service.bank.writer import ClusterOutcome, ReviewCandidate
from vinculo_common.batch import ATTRIBUTE_FIELDS

__all__ = ["Linker", "Progress", "core_linker", "fixed_thresholds", "link_inputs", "plain",
           "run_linkage"]

Progress = Callable[[str, float], None]
_EVIDENCE_DIGITS = 4


class Linker(Protocol):
    """A linkage executor: arrays in, clustering out (plus counts and the parameters used)."""

    def __call__(
        self, *, records: BankRecords, decisions: DecisionPairs, parameters: dict[str, Any],
        progress: Progress,
    ) -> tuple[ClusterOutcome, dict[str, Any], dict[str, Any]]: ...


def run_linkage(
    *, records: BankRecords, decisions: DecisionPairs, parameters: dict[str, Any],
    progress: Progress, linker: Linker | None = None,
) -> tuple[ClusterOutcome, dict[str, Any], dict[str, Any]]:
    """Run ``linker`` (default: the in-process core) and return (outcome, counts, parameters)."""
    return (linker or core_linker)(records=records, decisions=decisions, parameters=parameters,
                                   progress=progress)


def plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python numbers, NaN/inf to None, tuples to lists.

    >>> plain({"a": np.float64(0.5), "b": (np.int64(2), float("nan"))})
    {'a': 0.5, 'b': [2, None]}
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_NUMERIC_ATTRIBUTES = frozenset({"birth_year_min", "birth_year_max", "age_at_event"})


def link_inputs(
    *, clks: np.ndarray, source_ids: np.ndarray, sections: Mapping[str, np.ndarray | None],
    attributes: Sequence[Mapping[str, Any]], **decisions: Any,
) -> Any:
    """The core's ``LinkInputs`` from stored records: the one conversion the service's job and
    the evaluation lab share. Every content attribute the core accepts is filled from the
    records' stored columns (numbers as floats with NaN, text with "" for unknown);
    ``decisions`` are ``existing_labels``, ``must_link`` and ``cannot_link``.

    >>> inputs = link_inputs(clks=np.zeros((2, 128), np.uint8), source_ids=np.array([1, 2]),
    ...                      sections={}, attributes=[{"sex": "F", "birth_year_min": 2001}, {}])
    >>> list(inputs.sex), inputs.birth_year_min.tolist()
    (['F', ''], [2001.0, nan])
    """
    from linkage_service.linkage import LinkInputs

    columns: dict[str, np.ndarray] = {}
    for item in dataclasses.fields(LinkInputs):
        if item.name not in ATTRIBUTE_FIELDS:
            continue
        if item.name in _NUMERIC_ATTRIBUTES:
            columns[item.name] = np.array(
                [float(a[item.name]) if a.get(item.name) is not None else np.nan
                 for a in attributes], dtype=float)
        else:
            # One str object per distinct value (a bank's text attributes take a few hundred
            # values): 8 bytes a record in the job instead of a string each.
            shared: dict[str, str] = {}
            columns[item.name] = np.array(
                [shared.setdefault(v, v) for v in (a.get(item.name) or "" for a in attributes)],
                dtype=object)
    present = {name: value for name, value in sections.items() if value is not None}
    return LinkInputs(clks=clks, sources=source_ids, **present, **columns, **decisions)


def _fixed_rows(values: list[bytes | None]) -> np.ndarray | None:
    """A fixed-size section (``doc_hash``, ``family``) as (n, size) uint8; zeros where absent."""
    if not any(values):
        return None
    width = max(len(d) for d in values if d)
    zero = bytes(width)
    joined = b"".join(d if d and len(d) == width else zero for d in values)  # one copy, no loop
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), width).copy()


def _comparisons(levels: dict[str, np.ndarray], k: int) -> dict[str, str]:
    """Per comparison, the label of the pair's level ("missing" when either side lacks it)."""
    from linkage_service.linkage.scoring import COMPARISONS

    out = {}
    for name, level in levels.items():
        value = int(level[k])
        labels = COMPARISONS.get(name, ())
        out[name] = "missing" if value < 0 else (labels[value] if value < len(labels)
                                                 else str(value))
    return out


def fixed_thresholds(parameters: Mapping[str, Any]) -> Any:
    """The thresholds an operator fixed in a job's parameters (``upper_threshold`` /
    ``lower_threshold``), or None: chosen from the data.

    >>> fixed_thresholds({"upper_threshold": 0.9}).lower, fixed_thresholds({}) is None
    (0.9, True)
    """
    from linkage_service.linkage.scoring import Thresholds

    upper, lower = parameters.get("upper_threshold"), parameters.get("lower_threshold")
    if upper is None and lower is None:
        return None
    up = float(upper if upper is not None else 1.0)
    lo = float(lower if lower is not None else up)
    return Thresholds(upper=up, lower=max(min(lo, up), 1e-9), method="fixed by operator")


def core_linker(
    *, records: BankRecords, decisions: DecisionPairs, parameters: dict[str, Any],
    progress: Progress,
) -> tuple[ClusterOutcome, dict[str, Any], dict[str, Any]]:
    """Run ``linkage_service.linkage.link`` in this process.

    ``parameters``: optional ``upper_threshold`` / ``lower_threshold`` (fixed thresholds on the
    match probability; otherwise chosen from the data); ``linkage_schema``: the bank's schema
    id (the jobs route records it), whose Dice calibration the core applies.
    """
    from linkage_service.linkage import LinkParams, link
    from linkage_service.linkage.scoring import FellegiSunterModel
    from vinculo_common.schemas import dice_calibration_of

    if len(records) == 0:
        used = {"note": "banco vacío (empty bank)", **parameters}
        return ClusterOutcome(labels=np.empty(0, dtype=np.int64)), {"persons": 0}, used
    thresholds = fixed_thresholds(parameters)
    existing = [str(int(p)) if p >= 0 else None for p in records.old_person.tolist()]
    inputs = link_inputs(
        clks=records.clks,
        source_ids=records.source_ids,
        sections={name: _fixed_rows(values) for name, values in records.sections.items()},
        attributes=records.attributes,
        existing_labels=existing if any(x is not None for x in existing) else None,
        must_link=decisions.must_link,
        cannot_link=decisions.cannot_link,
    )
    previous = None
    if records.last_model is not None:
        with contextlib.suppress(ValueError):  # a job recorded before models were reusable
            previous = FellegiSunterModel.from_dict(records.last_model)
    progress("enlazando", 0.0)
    calibration = dice_calibration_of(parameters.get("linkage_schema"))  # hardened schemas
    result = link(inputs, LinkParams(thresholds=thresholds, previous_model=previous,
                                     dice_calibration=calibration))
    progress("enlazado", 1.0)
    _, labels = np.unique(np.asarray(result.labels).astype(str), return_inverse=True)
    review = result.review
    candidates = [
        ReviewCandidate(
            left=int(review.left[k]),
            right=int(review.right[k]),
            score=float(review.probability[k]),
            evidence={
                "probability": round(float(review.probability[k]), _EVIDENCE_DIGITS),
                "dice": round(float(review.dice[k]), _EVIDENCE_DIGITS),
                "comparisons": _comparisons(review.levels, k),
                "reason": str(review.reason[k]),
            },
        )
        for k in range(len(review))
    ]
    used = plain({**parameters, **result.params, "model": result.model.to_dict(),
                  "warnings": list(result.warnings)})
    counts = plain(dict(result.counts))
    stages = {f"link_{k}_s": round(float(v), 3) for k, v in result.timings.items()}
    return (ClusterOutcome(labels=labels.astype(np.int64), review=candidates, timings=stages),
            counts, used)
