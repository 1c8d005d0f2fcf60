"""The linkage job: one pure function from arrays to an assignment, ``link(inputs, params)``.

Stages (each timed in ``LinkResult.timings``):

1. ``candidates``: Hamming-LSH pairs over the CLKs (``blocking``) ∪ pairs sharing a keyed
   document hash; in an incremental run only pairs touching a new record.
2. ``dice``: exact Dice of every candidate (vectorised popcount); kept at ≥ ``dice_floor``
   (pairs with an equal document hash are kept whatever their Dice).
   ``density``: each record's count of close candidates (``neighbourhoods``), the input of the
   density comparison, a stand-in for name frequency.
3. ``completion``: pairs the clustering needs to judge a merge fairly: a new record against
   every member of an existing person it touches, all pairs inside a person a cannot-link
   decision splits, and the decided pairs themselves.
4. ``scoring``: comparison vectors, Fellegi–Sunter m/u/λ by EM (or the fixed model in
   ``params``), match probabilities, thresholds (from the posterior unless fixed).
5. ``clustering``: best-first coherent merging with decisions (``clustering.cluster``); merges
   refused for low cohesion get their missing cross pairs scored and are judged once more.

Nothing here touches a database, a clock or global randomness: the same inputs give the same
result, which is also what lets the candidate stage run partitioned (``linkage.partition``;
docs/linkage.md, "When the bank outgrows one machine").

>>> from vinculo_lab.synthetic_clks import synthetic_registries
>>> d = synthetic_registries(records_per_source=200, seed=4)
>>> result = link(LinkInputs(clks=d.clks, sources=d.sources, sex=d.sex), LinkParams())
>>> len(result.labels) == 600 and result.counts["persons"] < 600
True
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, fields
from typing import Any

import numpy as np
import pandas as pd

from linkage_service.linkage.blocking import (
    merge_codes,
    merge_pairs,
)
from linkage_service.linkage.candidates import Candidates, candidate_pairs
from linkage_service.linkage.clustering import (
    Clustering,
    ClusterParams,
    Decisions,
    ScoredPairs,
    cluster,
)
from linkage_service.linkage.comparisons import density_levels, neighbour_counts
from linkage_service.linkage.contract import (
    LinkInputs,
    LinkParams,
    LinkResult,
    PairTable,
    to_reference,
)
from linkage_service.linkage.memory import large_blocks_mapped, pair_chunks
from linkage_service.linkage.scoring import (
    APART,
    INCOMPATIBLE,
    FellegiSunterModel,
    PairAttributes,
    Thresholds,
    apart_mask,
    choose_thresholds,
    compare_pairs,
    constrained_probability,
    document_equal_u,
    encode_attributes,
    estimate_model,
    u_from_far_pairs,
    u_from_random_pairs,
)
from linkage_service.linkage.similarity import (
    check_clks,
    dice_of_pairs,
    popcounts,
)
from vinculo_common.errors import InputError

__all__ = [
    "Candidates",
    "LinkInputs",
    "LinkParams",
    "LinkResult",
    "PairTable",
    "candidate_pairs",
    "link",
    "neighbourhoods",
]


def _attributes(inputs: LinkInputs) -> PairAttributes:
    """The content attributes of ``inputs``: every PairAttributes field, taken by name."""
    values = {f.name: getattr(inputs, f.name) for f in fields(PairAttributes)}
    return PairAttributes(**{**values, "sources": np.asarray(inputs.sources)})


def _validate(inputs: LinkInputs) -> tuple[np.ndarray, int, list[str | None]]:
    clks = check_clks(inputs.clks)
    n = len(clks)
    for name in [f.name for f in fields(PairAttributes)] + ["existing_labels"]:
        value = getattr(inputs, name)
        if value is not None and len(value) != n:
            raise InputError(f"{name} must have one entry per CLK ({n}), got {len(value)}")
    labels: list[str | None] = (
        [None] * n
        if inputs.existing_labels is None
        else [
            str(x) if x is not None and x == x and x != "" else None for x in inputs.existing_labels
        ]
    )
    return clks, n, labels


def neighbourhoods(
    cand: Candidates, *, involve: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each record's count of close candidates (``comparisons.neighbour_counts``, the density
    comparison's input) and which records' counts are complete (None: all).

    A full run's candidates hold every record's neighbourhood; an incremental run's hold the
    new records' only, and ``density_levels`` reads a pair's density from its new record.
    """
    counts = neighbour_counts(cand.left, cand.right, cand.dice, len(involve))
    return counts, (None if involve.all() else involve)


def _label_codes(old: list[str | None]) -> np.ndarray:
    """Each record's existing label as an integer (equal labels, equal codes); −1 for none."""
    values = np.array(["" if lab is None else lab for lab in old], dtype=object)
    codes, uniques = pd.factorize(values)
    codes = codes.astype(np.int64, copy=False)
    if "" in set(uniques.tolist()):
        codes[values == ""] = -1
    return codes


def _members(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each label code in row order: (rows, starts), label c's rows being
    ``rows[starts[c]:starts[c + 1]]``."""
    labelled = np.flatnonzero(codes >= 0)
    rows = labelled[np.argsort(codes[labelled], kind="stable")]
    sizes = np.bincount(codes[labelled], minlength=int(codes.max(initial=-1)) + 1)
    return rows, np.r_[0, np.cumsum(sizes)]


def _completion_pairs(
    left: np.ndarray, right: np.ndarray, old: list[str | None], inputs: LinkInputs, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """A new record against (the first ``limit``) members of every existing person it has a
    candidate in; all pairs inside a person a cannot-link splits (when small); the decided
    pairs. Pairs as (left < right), in no particular order, perhaps repeated."""
    codes = _label_codes(old)
    extra: list[tuple[np.ndarray, np.ndarray]] = []
    if (codes >= 0).any():
        rows, starts = _members(codes)
        fresh = codes < 0
        lf = np.asarray(left, dtype=np.int64)
        rt = np.asarray(right, dtype=np.int64)
        a = fresh[lf] & ~fresh[rt]  # the left record is new, the right one has a person
        b = fresh[rt] & ~fresh[lf]
        new = np.r_[lf[a], rt[b]]
        lab = np.r_[codes[rt[a]], codes[lf[b]]]
        if len(new):
            touched = np.unique(new * (int(codes.max()) + 1) + lab)
            new, lab = touched // (int(codes.max()) + 1), touched % (int(codes.max()) + 1)
            take = np.minimum(starts[lab + 1] - starts[lab], limit)
            first = np.repeat(starts[lab], take)
            within = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
            extra.append((np.repeat(new, take), rows[first + within]))
        for x, y in np.asarray(inputs.cannot_link, dtype=np.int64).reshape(-1, 2).tolist():
            if codes[x] >= 0 and codes[x] == codes[y]:
                members = rows[starts[codes[x]]:starts[codes[x] + 1]]
                if len(members) ** 2 <= 4 * limit:
                    ii, jj = np.triu_indices(len(members), k=1)
                    extra.append((members[ii], members[jj]))
    for decided in (inputs.must_link, inputs.cannot_link):
        arr = np.asarray(decided, dtype=np.int64).reshape(-1, 2)
        extra.append((arr[:, 0], arr[:, 1]))
    a_all = np.concatenate([x for x, _ in extra])
    b_all = np.concatenate([y for _, y in extra])
    keep = a_all != b_all
    return np.minimum(a_all, b_all)[keep], np.maximum(a_all, b_all)[keep]


def link(inputs: LinkInputs, params: LinkParams) -> LinkResult:
    """Run one linkage job over arrays; see the module docstring for the stages."""
    timings: dict[str, float] = {}
    clock = time.perf_counter
    t0 = clock()
    clks, n, old = _validate(inputs)
    large_blocks_mapped()  # freed pair arrays return to the system between stages
    involve = np.array([lab is None for lab in old], dtype=bool)
    warnings: list[str] = []
    counts = popcounts(clks)

    # 1. candidates, 2. dice
    cand = candidate_pairs(inputs, params, involve=involve, timings=timings)
    left, right, dice = cand.left, cand.right, cand.dice
    n_candidates = cand.compared
    skipped = cand.skipped
    if skipped:
        warnings.append(f"{skipped} record-band memberships skipped in oversized LSH buckets")

    t = clock()
    neighbours, complete = neighbourhoods(cand, involve=involve)
    held = cand.held
    del cand  # its arrays are replaced below as pairs are added: not held twice
    timings["density"] = clock() - t

    def dice_of(lf: np.ndarray, rt: np.ndarray) -> np.ndarray:
        return to_reference(params, dice_of_pairs(clks, lf, rt, counts=counts))

    # 3. completion
    t = clock()
    comp_l, comp_r = _completion_pairs(left, right, old, inputs, params.completion_max_pairs)
    if len(comp_l):
        n_core = len(left)
        all_l, all_r = merge_pairs([(left, right), (comp_l, comp_r)], n=n)
        all_d = dice_of(all_l, all_r)
        core = np.isin(all_l * n + all_r, left * n + right, assume_unique=True)
        left, right, dice = all_l, all_r, all_d
        n_completion = len(left) - n_core
    else:
        core = np.ones(len(left), dtype=bool)
        n_completion = 0
    timings["completion"] = clock() - t

    # 4. scoring
    t = clock()
    attributes = _attributes(inputs)
    codes = encode_attributes(attributes)  # once per record; pairs compare integers

    def levels_of(lf: np.ndarray, rt: np.ndarray, dc: np.ndarray) -> dict[str, np.ndarray]:
        """Every comparison of the pairs: the attributes' and the density's, a chunk of pairs
        at a time (the comparisons' temporaries are 8-byte gathers, the levels one byte)."""
        out: dict[str, np.ndarray] = {}
        for part in pair_chunks(len(lf), at_least_one=True):
            got = compare_pairs(left=lf[part], right=rt[part], dice=dc[part],
                                attributes=attributes, codes=codes)
            got["density"] = density_levels(lf[part], rt[part], neighbours, complete)
            for name, level in got.items():
                if name not in out:
                    out[name] = np.empty(len(lf), dtype=level.dtype)
                out[name][part] = level
        return out

    levels = levels_of(left, right, dice)
    model_source = _model_source(params, n=n, new=int(involve.sum()), comparisons=set(levels))
    if model_source == "previous_job":
        assert params.previous_model is not None
        model = params.previous_model
    else:
        random_u = u_from_random_pairs(attributes, seed=params.lsh.seed, codes=codes)
        core_levels = _Rows(levels, core)
        fixed_u = {k: v for k, v in random_u.items() if k in params.random_u_fixed}
        if params.far_u_min_pairs is not None:
            fixed_u |= document_equal_u(
                u_from_far_pairs(core_levels, min_pairs=params.far_u_min_pairs), random_u)
        model = estimate_model(
            core_levels,
            dice=dice[core],
            fixed=params.model,
            fixed_u=fixed_u,
            u_prior=random_u,
            u_prior_weight=params.random_u_prior_pairs,
        )
        if model_source == "em":
            model.records = n
    prob = _probability(model, levels, params)
    thresholds = params.thresholds or choose_thresholds(
        prob[core],
        max_false_link_rate=params.max_false_link_rate,
        max_missed_rate=params.max_missed_rate,
    )
    n_above_floor = int(core.sum())
    # Dice is a pure function of the pair: not held through clustering (8 bytes a pair), but
    # computed again for the pairs the result reports.
    del core, dice
    timings["scoring"] = clock() - t

    # 5. clustering (a second round scores the cross pairs of merges refused for cohesion)
    t = clock()
    cparams = ClusterParams(
        link_threshold=thresholds.upper,
        min_cohesion=params.cluster.min_cohesion,
        max_cluster_size=params.cluster.max_cluster_size,
        min_probability_kept=params.cluster.min_probability_kept,
    )

    def run(lf: np.ndarray, rt: np.ndarray, pr: np.ndarray,
            lv: dict[str, np.ndarray]) -> Clustering:
        return _cluster_touched(
            n=n,
            pairs=ScoredPairs(left=lf, right=rt, probability=pr,
                              apart=apart_mask(lv, apart=params.apart)),
            old=old,
            involve=involve,
            must_link=np.asarray(inputs.must_link, dtype=np.int64).reshape(-1, 2),
            cannot_link=np.asarray(inputs.cannot_link, dtype=np.int64).reshape(-1, 2),
            params=cparams,
            new_label_prefix=params.new_label_prefix,
        )

    clustering = run(left, right, prob, levels)
    extra_l, extra_r = _cohesion_pairs(
        clustering.labels, clustering.refused, params.completion_max_pairs
    )
    if len(extra_l):
        merged = merge_codes([(left, right), (extra_l, extra_r)], n=n)
        if len(merged) > len(left):
            # Pairs already scored keep their levels (pure functions of the pair); only the
            # new cross pairs are compared.
            old_at = np.empty(len(left), dtype=np.int64)
            for part in pair_chunks(len(left)):
                old_at[part] = np.searchsorted(merged, left[part] * n + right[part])
            left, right = merged // n, merged % n  # the old ends are no longer read
            del merged
            fresh_mask = np.ones(len(left), dtype=bool)
            fresh_mask[old_at] = False
            new_at = np.flatnonzero(fresh_mask)
            del fresh_mask
            new_l, new_r = left[new_at], right[new_at]
            fresh = levels_of(new_l, new_r, dice_of(new_l, new_r))
            for name in list(levels):  # one comparison at a time: the old array goes at once
                levels[name] = _scatter(len(left), (old_at, levels[name]), (new_at, fresh[name]))
            del fresh
            del prob  # the first round's, before the second's is computed
            prob = _probability(model, levels, params)
            n_completion += len(new_at)
            del old_at, new_at, new_l, new_r
            del clustering  # its labels are read above; not held while the next one is built
            clustering = run(left, right, prob, levels)
    warnings.extend(clustering.warnings)
    timings["clustering"] = clock() - t

    labels = clustering.labels
    person = pd.factorize(labels)[0]  # integer codes: the comparisons below stay 1 byte a pair
    same = person[left] == person[right]

    def take(idx: np.ndarray, reason: np.ndarray) -> PairTable:
        lf, rt = left[idx], right[idx]
        return PairTable(left=lf, right=rt, dice=dice_of(lf, rt), probability=prob[idx],
                         levels={k: v[idx] for k, v in levels.items()}, reason=reason)

    auto_idx = np.flatnonzero(same & (prob >= thresholds.upper))
    auto = take(auto_idx, np.full(len(auto_idx), "", dtype=object))
    decided = np.concatenate(
        [
            np.asarray(x, dtype=np.int64).reshape(-1, 2)
            for x in (inputs.must_link, inputs.cannot_link)
        ]
    )
    decided_codes = np.minimum(decided[:, 0], decided[:, 1]) * n + np.maximum(
        decided[:, 0], decided[:, 1]
    )
    # A pair's reason: the one its refused merge gave, else "band" inside the band.
    band = (prob >= thresholds.lower) & (prob < thresholds.upper)
    refused = {min(a, b) * n + max(a, b): why for a, b, why in clustering.refused}
    hit = _pairs_in(left, right, n, np.fromiter(refused, dtype=np.int64, count=len(refused)))
    review_idx = np.flatnonzero((band | hit) & ~same & (involve[left] | involve[right] | hit))
    if len(decided_codes):
        review_idx = review_idx[~np.isin(left[review_idx] * n + right[review_idx],
                                         decided_codes)]
    review_idx = review_idx[np.argsort(-prob[review_idx], kind="stable")]
    review_idx, thresholds = _cap_review(review_idx, left, right, prob, thresholds,
                                         max_records=max(int(params.max_review_share * n),
                                                         params.min_review_records))
    reason = np.full(len(review_idx), "band", dtype=object)
    for at in np.flatnonzero(hit[review_idx]).tolist():
        row = int(review_idx[at])
        reason[at] = refused[int(left[row]) * n + int(right[row])]
    review = take(review_idx, reason)
    timings["total"] = clock() - t0
    n_labels = len(set(labels.tolist()))
    return LinkResult(
        labels=labels,
        events=clustering.events,
        auto_links=auto,
        review=review,
        model=model,
        thresholds=thresholds,
        counts={
            "records": n,
            "new_records": int(involve.sum()),
            "candidate_pairs": n_candidates,
            "pairs_above_floor": n_above_floor,
            "candidates_held": held,
            "completion_pairs": n_completion,
            "auto_links": len(auto),
            "review_pairs": len(review),
            "persons": n_labels,
            "lsh_skipped": skipped,
            "merges": sum(e.kind == "merge" for e in clustering.events),
            "splits": sum(e.kind == "split" for e in clustering.events),
        },
        timings=timings,
        params=_params_dict(params, thresholds)
        | {"model_source": model_source, "model_records": model.records},
        warnings=warnings,
    )


class _Rows(Mapping[str, np.ndarray]):
    """Comparison levels of some pairs (a mask), each comparison copied only when read: EM
    reads them one at a time, so the core pairs are never copied whole (13 bytes a pair).

    >>> dict(_Rows({"dice": np.array([1, 2, 3])}, np.array([True, False, True])))["dice"].tolist()
    [1, 3]
    """

    def __init__(self, levels: Mapping[str, np.ndarray], rows: np.ndarray) -> None:
        self._levels, self._rows = levels, rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self._levels[name][self._rows]

    def __iter__(self) -> Iterator[str]:
        return iter(self._levels)

    def __len__(self) -> int:
        return len(self._levels)


def _probability(
    model: FellegiSunterModel, levels: Mapping[str, np.ndarray], params: LinkParams
) -> np.ndarray:
    """``constrained_probability`` of every pair, a chunk of pairs at a time (each pair's
    value depends on its own levels only; the weights' temporaries stay small)."""
    size = len(next(iter(levels.values()))) if levels else 0
    out = np.empty(size, dtype=np.float64)
    for part in pair_chunks(size):
        out[part] = constrained_probability(model, {k: v[part] for k, v in levels.items()},
                                            incompatible=params.incompatible)
    return out


def _pairs_in(left: np.ndarray, right: np.ndarray, n: int, codes: np.ndarray) -> np.ndarray:
    """Which pairs (left·n + right) are among ``codes``: ``np.isin`` a chunk at a time
    against the sorted codes, without a sort of every pair.

    >>> _pairs_in(np.array([0, 0, 1]), np.array([1, 2, 2]), 3, np.array([5, 1])).tolist()
    [True, False, True]
    """
    out = np.zeros(len(left), dtype=bool)
    if len(codes) == 0:
        return out
    ref = np.unique(codes)
    for part in pair_chunks(len(left)):
        mine = left[part] * n + right[part]
        at = np.minimum(np.searchsorted(ref, mine), len(ref) - 1)
        out[part] = ref[at] == mine
    return out


def _scatter(size: int, *parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """One array of ``size`` from (positions, values) parts that cover every position once.

    >>> _scatter(3, (np.array([0, 2]), np.array([5, 7])), (np.array([1]), np.array([6]))).tolist()
    [5, 6, 7]
    """
    out = np.empty(size, dtype=parts[0][1].dtype)
    for at, values in parts:
        out[at] = values
    return out


def _cap_review(
    review_idx: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    thresholds: Thresholds,
    *,
    max_records: int,
) -> tuple[np.ndarray, Thresholds]:
    """Keep the most probable review pairs while they touch at most ``max_records`` records.

    Pairs are in decreasing probability; the lower threshold becomes the probability of the
    last pair kept (the band the reviewers see), recorded in the method. The pairs left out
    are not links: a band past the budget is a dumping ground no one reviews.
    """
    if len(review_idx) == 0:
        return review_idx, thresholds
    ends = np.stack([left[review_idx], right[review_idx]], axis=1).reshape(-1)
    _, first = np.unique(ends, return_index=True)
    fresh = np.zeros(len(ends), dtype=np.int64)
    fresh[first] = 1
    touched = np.cumsum(fresh.reshape(-1, 2).sum(axis=1))
    keep = int(np.searchsorted(touched, max_records, side="right"))
    if keep >= len(review_idx):
        return review_idx, thresholds
    kept = review_idx[:keep]
    band = prob[kept][prob[kept] < thresholds.upper]
    lower = float(band.min()) if len(band) else thresholds.upper
    lower = max(lower, thresholds.lower)
    capped = Thresholds(upper=thresholds.upper, lower=lower,
                        method=f"{thresholds.method}, review capped")
    return kept, capped


def _model_source(params: LinkParams, *, n: int, new: int, comparisons: set[str]) -> str:
    """"fixed" (given), "previous_job" (reused: a small increment) or "em" (estimated now)."""
    if params.model is not None:
        return "fixed"
    prev = params.previous_model
    share = params.reuse_model_max_new_share
    if (
        prev is not None
        and new < n
        and prev.records > 0
        and new <= share * n
        and n - prev.records <= share * n
        and set(prev.m) == comparisons
    ):
        return "previous_job"
    return "em"


def _cluster_touched(
    *,
    n: int,
    pairs: ScoredPairs,
    old: list[str | None],
    involve: np.ndarray,
    must_link: np.ndarray,
    cannot_link: np.ndarray,
    params: ClusterParams,
    new_label_prefix: str,
) -> Clustering:
    """``cluster`` over the records new evidence touches; the rest keep their persons.

    Touched: new records, records in a scored pair or a decision, and every record of an
    existing person holding one of those. Others are not re-clustered: nothing could change
    them. Rows keep their relative order, so labels and lineage are exactly those of
    clustering all n records.
    """
    touched = involve.copy()
    for arr in (pairs.left, pairs.right, must_link.reshape(-1), cannot_link.reshape(-1)):
        touched[np.asarray(arr, dtype=np.int64)] = True
    old_arr = np.array([lab if lab is not None else "" for lab in old], dtype=object)
    labels_hit = set(old_arr[touched].tolist()) - {""}
    if labels_hit:  # pandas' hash table, not np.isin (which sorts object arrays)
        touched |= pd.Series(old_arr).isin(labels_hit).to_numpy()
    rows = np.flatnonzero(touched)
    if len(rows) == n:
        return cluster(
            n=n,
            pairs=pairs,
            existing_labels=old,
            decisions=Decisions(must_link=must_link, cannot_link=cannot_link),
            params=params,
            new_label_prefix=new_label_prefix,
        )
    local = np.full(n, -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    sub = cluster(
        n=len(rows),
        pairs=ScoredPairs(
            left=local[pairs.left], right=local[pairs.right], probability=pairs.probability,
            apart=pairs.apart,
        ),
        existing_labels=[old[i] for i in rows.tolist()],
        decisions=Decisions(must_link=local[must_link], cannot_link=local[cannot_link]),
        params=params,
        new_label_prefix=new_label_prefix,
    )
    labels = old_arr.copy()
    labels[rows] = sub.labels
    refused = [(int(rows[a]), int(rows[b]), why) for a, b, why in sub.refused]
    return Clustering(labels=labels, events=sub.events, refused=refused, warnings=sub.warnings)


def _cohesion_pairs(
    labels: np.ndarray, refused: list[tuple[int, int, str]], limit: int
) -> tuple[np.ndarray, np.ndarray]:
    if not refused:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    # Each person's members in row order: persons as integer codes, rows sorted by code once
    # (no dict of every person: only the persons of refused merges are read).
    codes, uniques = pd.factorize(labels)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    out_l, out_r = [], []
    seen: set[tuple[int, int]] = set()
    for a, b, why in refused:
        ca, cb = int(codes[a]), int(codes[b])
        key = (min(ca, cb), max(ca, cb))
        if why != "cohesion" or key in seen:
            continue
        seen.add(key)
        ma, mb = order[bounds[ca] : bounds[ca + 1]], order[bounds[cb] : bounds[cb + 1]]
        if len(ma) * len(mb) > limit:
            continue
        out_l.append(np.repeat(ma, len(mb)))
        out_r.append(np.tile(mb, len(ma)))
    if not out_l:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    a_arr, b_arr = np.concatenate(out_l), np.concatenate(out_r)
    return np.minimum(a_arr, b_arr).astype(np.int64), np.maximum(a_arr, b_arr).astype(np.int64)


def _params_dict(params: LinkParams, thresholds: Thresholds) -> dict[str, Any]:
    out = {
        "dice_floor": params.dice_floor,
        "candidate_budget": params.candidate_budget,
        "dice_calibration": None if params.dice_calibration is None
        else [list(k) for k in params.dice_calibration],
        "blocking": params.blocking,
        "lsh": asdict(params.lsh),
        "doc_blocks": params.doc_blocks,
        "thresholds": asdict(thresholds),
        "max_false_link_rate": params.max_false_link_rate,
        "max_missed_rate": params.max_missed_rate,
        "cluster": asdict(params.cluster) | {"link_threshold": thresholds.upper},
        "completion_max_pairs": params.completion_max_pairs,
        "random_u_prior_pairs": params.random_u_prior_pairs,
        "random_u_fixed": list(params.random_u_fixed),
        "far_u_min_pairs": params.far_u_min_pairs,
        "max_review_share": params.max_review_share,
        "min_review_records": params.min_review_records,
        "incompatible": {k: list(v) for k, v in (params.incompatible or INCOMPATIBLE).items()},
        "apart": {k: list(v) for k, v in (APART if params.apart is None else params.apart).items()},
        "model_fixed": params.model is not None,
    }
    return out
