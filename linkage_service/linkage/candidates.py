"""Stages 1 and 2 of the linkage job: candidate pairs and their Dice (``candidate_pairs``).

Hamming-LSH pairs over the CLKs, or all pairs for exact blocking, each record keeping its
``LinkParams.candidate_budget`` best by Dice, plus every pair sharing a keyed document; Dice on
the reference scale of a hardened schema's calibration. ``job.link`` runs it first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from linkage_service.linkage.blocking import (
    budget_mask,
    key_block_pairs,
    lsh_candidate_pairs,
    merge_pairs,
)
from linkage_service.linkage.contract import LinkInputs, LinkParams, to_reference, to_stored
from linkage_service.linkage.similarity import check_clks, dice_candidates_within, dice_of_pairs

__all__ = ["Candidates", "candidate_pairs", "doc_keys"]


def doc_keys(doc_hash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    docs = np.ascontiguousarray(doc_hash, dtype=np.uint8)
    words = docs.view(np.uint64)
    keys = words[:, 0] ^ (words[:, 1] * np.uint64(0x9E3779B97F4A7C15))
    return keys, np.asarray(words.any(axis=1), dtype=bool)



@dataclass(frozen=True)
class Candidates:
    """Candidate pairs (left < right) at or above the Dice floor, within the per-record
    budget, plus every pair sharing a keyed document; ``compared``: pairs examined (bucket
    pairs counted per band, or all pairs for exact blocking, plus document pairs);
    ``skipped``: record-band memberships in oversized buckets; ``held``: most pairs held at
    once while generating them."""

    left: np.ndarray
    right: np.ndarray
    dice: np.ndarray
    compared: int
    skipped: int
    held: int



def candidate_pairs(
    inputs: LinkInputs,
    params: LinkParams,
    *,
    involve: np.ndarray | None = None,
    timings: dict[str, float] | None = None,
) -> Candidates:
    """Stages 1 and 2 of ``link``: LSH (or exact) pairs, the budget, documents, their Dice.

    ``involve`` (new records): only pairs touching one are generated; the budget is then
    counted among those pairs, so an incremental run keeps every pair a full run would keep
    among the pairs touching a new record (and perhaps a few more). ``timings`` receives
    ``candidates`` and ``dice`` (seconds).

    >>> from vinculo_lab.synthetic_clks import synthetic_registries
    >>> d = synthetic_registries(records_per_source=100, seed=4)
    >>> c = candidate_pairs(LinkInputs(clks=d.clks, sources=d.sources), LinkParams())
    >>> bool((c.left < c.right).all() and (c.dice >= 0.7).all())
    True
    """
    clock = time.perf_counter
    t0 = clock()
    clks = check_clks(inputs.clks)
    n = len(clks)
    if involve is None:
        involve = np.ones(n, dtype=bool)
    budget = params.candidate_budget
    skipped = held = 0
    floor = to_stored(params, params.dice_floor)
    if params.blocking == "exact":
        exact = dice_candidates_within(clks, threshold=floor)
        keep = involve[exact.left] | involve[exact.right]
        cand_l, cand_r = exact.left[keep], exact.right[keep]
        if budget is not None:  # as LSH does: among the generated pairs
            kept = budget_mask(cand_l, cand_r, exact.dice[keep], n=n, per_record=budget)
            cand_l, cand_r = cand_l[kept], cand_r[kept]
        compared = n * (n - 1) // 2
        held = len(exact.left)
    else:
        lsh_stats: dict[str, int] = {}
        cand_l, cand_r, skipped = lsh_candidate_pairs(
            clks,
            params=replace(params.lsh, design_dice=to_stored(params, params.lsh.design_dice)),
            involve=involve,
            min_dice=floor,
            budget=budget,
            stats=lsh_stats,
        )
        compared, held = lsh_stats["compared"], lsh_stats["held"]
    doc_l = doc_r = np.empty(0, dtype=np.int64)
    if params.doc_blocks and inputs.doc_hash is not None:
        keys, has = doc_keys(inputs.doc_hash)
        doc_l, doc_r = key_block_pairs(keys, valid=has)
        keep = involve[doc_l] | involve[doc_r]
        doc_l, doc_r = doc_l[keep], doc_r[keep]
        cand_l, cand_r = merge_pairs([(cand_l, cand_r), (doc_l, doc_r)], n=n)
    t1 = clock()
    dice = to_reference(params, dice_of_pairs(clks, cand_l, cand_r))
    keep = dice >= params.dice_floor
    if len(doc_l):
        keep |= np.isin(cand_l * n + cand_r, doc_l * n + doc_r)
    if timings is not None:
        timings["candidates"] = t1 - t0
        timings["dice"] = clock() - t1
    return Candidates(
        left=cand_l[keep],
        right=cand_r[keep],
        dice=dice[keep],
        compared=compared + len(doc_l),
        skipped=skipped,
        held=held,
    )
