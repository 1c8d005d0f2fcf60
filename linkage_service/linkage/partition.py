"""The candidate stage in band slices: the unit a Dask or Ray cluster would run per task.

The LSH design (bits per band, bands, their positions) depends only on the data and the seed,
so the bands split into slices that need no coordination. Each slice runs the same kernel
(``blocking.lsh_candidate_pairs`` with ``band_range``) over *all* records, with the floor and
the per-record budget; ``combine`` merges the slices' pairs and applies the budget once more.
That is exact: a pair among a record's ``budget`` best over all bands is among its best in the
slice that finds it (a slice holds fewer pairs), so the union holds every record's overall
best, and the budget over the union keeps exactly them. Without a budget the union is the
result. ``benchmarks/partitioned.py`` runs the slices on Dask's scheduler and checks the pairs
against the single call; ``docs/linkage.md`` ("When the bank outgrows one machine") has the
design and the figures.

>>> from vinculo_lab.synthetic_clks import synthetic_registries
>>> clks = synthetic_registries(records_per_source=200, seed=3).clks
>>> params = LshParams(bands=24, bits_per_band=12)
>>> whole = lsh_candidate_pairs(clks, params=params, min_dice=0.6, budget=3)
>>> parts = [slice_pairs(clks, s, params=params, min_dice=0.6, budget=3)
...          for s in band_slices(clks, params=params, slices=4)]
>>> got = combine(clks, parts, budget=3)
>>> bool((got.left == whole[0]).all() and (got.right == whole[1]).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from linkage_service.linkage.blocking import (
    LshParams,
    bands_for,
    bits_per_band_for,
    budget_mask,
    lsh_candidate_pairs,
    merge_pairs,
)
from linkage_service.linkage.similarity import check_clks, dice_of_pairs
from vinculo_common.errors import InputError

__all__ = ["SlicePairs", "band_slices", "combine", "slice_pairs"]


@dataclass(frozen=True)
class SlicePairs:
    """One slice's candidate pairs (left < right, sorted) and its counters."""

    left: np.ndarray
    right: np.ndarray
    skipped: int
    compared: int


def band_slices(clks: np.ndarray, *, params: LshParams, slices: int) -> list[slice]:
    """The designed bands cut into ``slices`` contiguous ranges of near-equal size."""
    if slices < 1:
        raise InputError(f"slices must be ≥ 1 (got {slices})")
    arr = check_clks(clks)
    k = params.bits_per_band or bits_per_band_for(arr, random_partners=params.random_partners)
    bands = params.bands or bands_for(
        arr, bits_per_band=k, design_dice=params.design_dice,
        design_recall=params.design_recall, max_bands=params.max_bands,
        recall_floor=params.recall_floor, max_floor_bands=params.max_floor_bands)
    edges = np.linspace(0, bands, min(slices, bands) + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in pairwise(edges) if b > a]


def slice_pairs(
    clks: np.ndarray,
    bands: slice,
    *,
    params: LshParams,
    min_dice: float | None,
    budget: int | None,
    involve: np.ndarray | None = None,
    threads: int | None = None,
) -> SlicePairs:
    """One task: the pairs of the bands in ``bands``, under the floor and the budget."""
    stats: dict[str, int] = {}
    left, right, skipped = lsh_candidate_pairs(
        clks, params=params, involve=involve, min_dice=min_dice, budget=budget, stats=stats,
        band_range=bands, threads=threads)
    return SlicePairs(left=left, right=right, skipped=skipped, compared=stats["compared"])


def combine(clks: np.ndarray, parts: list[SlicePairs], *, budget: int | None) -> SlicePairs:
    """The slices' pairs as one call over all bands gives them (see the module docstring)."""
    arr = check_clks(clks)
    left, right = merge_pairs([(p.left, p.right) for p in parts], n=len(arr))
    if budget is not None and len(left):
        keep = budget_mask(left, right, dice_of_pairs(arr, left, right), n=len(arr),
                           per_record=budget)
        left, right = left[keep], right[keep]
    return SlicePairs(left=left, right=right, skipped=sum(p.skipped for p in parts),
                      compared=sum(p.compared for p in parts))
