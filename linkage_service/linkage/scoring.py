"""Pair scores: Dice combined with content-attribute evidence, Fellegi–Sunter style.

Each candidate pair gets a *comparison vector* (``comparisons.compare_pairs``): one level per
comparison (Dice band, sex, birth-year ranges, keyed document hash, nationality, UBIGEOs,
same-source/same-event), −1 where a record lacks the attribute (no evidence either way). A
Fellegi–Sunter model holds, per comparison and level, m = P(level | same person) and
u = P(level | different people), and the prior λ = P(same person) among candidates; the match
weight of a pair is log2(λ/(1−λ)) + Σ log2(m/u), its match probability 2^w / (1 + 2^w).

m, u and λ are estimated without labels by expectation–maximisation over the candidate pairs
(``estimate_model``), assuming comparisons independent given the match status. The model is a
plain dataclass (``to_dict``) so a job can record the weights it used.

Thresholds on the match probability come from the same posterior (``choose_thresholds``): the
upper one is the lowest at which the expected share of false links among pairs above it stays
under ``max_false_link_rate``; the lower one the highest at which the expected share of true
matches left below it stays under ``max_missed_rate``.

>>> import numpy as np
>>> levels = {"dice": np.array([5, 5, 0, 0]), "sex": np.array([0, 1, 1, -1])}
>>> model = FellegiSunterModel(
...     prior=0.5, m={"dice": [0.1] * 5 + [0.5], "sex": [0.9, 0.1]},
...     u={"dice": [0.5] + [0.1] * 5, "sex": [0.5, 0.5]})
>>> [round(p, 3) for p in match_probability(model, levels).tolist()]
[0.9, 0.5, 0.038, 0.167]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from linkage_service.linkage.comparisons import (
    COMPARISONS,
    DICE_LEVELS,
    DOC_DIFFERENT_LOW_DICE,
    AttributeCodes,
    PairAttributes,
    compare_pairs,
    encode_attributes,
)
from vinculo_common.errors import InputError

__all__ = [
    "APART",
    "COMPARISONS",
    "DICE_LEVELS",
    "DOC_DIFFERENT_LOW_DICE",
    "FAR_PAIR_U",
    "INCOMPATIBLE",
    "MONOTONE",
    "OVERRIDABLE",
    "OVERRIDE_DICE",
    "AttributeCodes",
    "FellegiSunterModel",
    "PairAttributes",
    "Thresholds",
    "apart_mask",
    "choose_thresholds",
    "compare_pairs",
    "constrained_probability",
    "document_equal_u",
    "encode_attributes",
    "estimate_model",
    "level_patterns",
    "match_probability",
    "match_weight",
    "u_from_far_pairs",
    "u_from_random_pairs",
]


# Comparisons whose u comes from far-apart candidate pairs (``u_from_far_pairs``).
FAR_PAIR_U: tuple[str, ...] = ("dice", "doc_hash")

# Levels that rule a pair out (``constrained_probability``): comparison → levels.
INCOMPATIBLE: dict[str, tuple[int, ...]] = {
    "sex": (1,), "birth_year": (3,), "doc_hash": (2, 3, 4), "family": (2,), "dice": (0,),
}

# Incompatible levels that also keep the two records out of one person (``apart_mask``; the
# clustering treats such pairs like cannot-links): twins under one family hash or with
# consecutive DNIs, and different documents with a distant encoding. A sex or birth year
# recorded differently only stops the pair itself from linking: the record is still joined
# through its other records (docs/linkage.md, "Round 3").
APART: dict[str, tuple[int, ...]] = {"family": (2,), "doc_hash": (2, 3)}

# Incompatible levels that identity evidence overrides (``constrained_probability``):
# - a sex or birth year recorded wrongly in one registry. Twins of the other sex and mothers
#   with their daughter's name differ in more than that, so the rule stays for them; a pair
#   with an equal keyed document, the same family with close given names, or a Dice of at
#   least OVERRIDE_DICE is one person written wrongly (before: recall 0.06 on pairs whose sex
#   differs, 149 lost pairs at 6k people);
# - the lowest Dice level (below the first edge, 0.74): places and dates alone never link
#   two records (twins and sisters trafficked together, common Venezuelan names in the same
#   Lima districts scored 0.93-0.999 there), unless the document or the family says so.
OVERRIDABLE: dict[str, tuple[str, ...]] = {
    "sex": ("document", "family", "dice"),
    "birth_year": ("document", "family", "dice"),
    "dice": ("document", "family"),
}
OVERRIDE_DICE = 0.89

# Ordered comparisons: +1 where the evidence for a match grows with the level, −1 where it
# falls. EM keeps log2(m/u) monotone along them (``_monotone``): where the classes blur
# (no places sent, many namesakes) free EM gave a *different* document more weight than an
# equal one (+15.6 against +10.6 log2 at 13k people without UBIGEOs).
MONOTONE: dict[str, int] = {
    "dice": 1, "sex": -1, "birth_year": -1, "doc_hash": -1, "nationality": -1,
    "ubigeo_birth": -1, "ubigeo_residence": -1, "ubigeo_event": -1, "density": -1,
}

@dataclass
class FellegiSunterModel:
    """λ and per-comparison m/u probabilities (lists indexed by level)."""

    prior: float
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    iterations: int = 0
    converged: bool = False
    notes: list[str] = field(default_factory=list)
    records: int = 0  # records of the job that estimated it (0: unknown)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FellegiSunterModel:
        """Rebuild a model recorded with ``to_dict`` (a previous job's parameters).

        Raises ValueError when ``data`` is not such a record.

        >>> m = FellegiSunterModel(prior=0.1, m={"sex": [0.9, 0.1]}, u={"sex": [0.5, 0.5]})
        >>> FellegiSunterModel.from_dict(m.to_dict()) == m
        True
        """
        try:
            m = {str(k): [float(x) for x in v] for k, v in data["m"].items()}
            u = {str(k): [float(x) for x in v] for k, v in data["u"].items()}
            prior = float(data["prior"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InputError(f"not a recorded Fellegi–Sunter model ({exc!r})") from None
        if set(m) != set(u) or any(len(m[k]) != len(u[k]) for k in m) or not 0 < prior < 1:
            raise InputError("not a recorded Fellegi–Sunter model (m/u/prior inconsistent)")
        return cls(
            prior=prior,
            m=m,
            u=u,
            iterations=int(data.get("iterations") or 0),
            converged=bool(data.get("converged")),
            notes=[str(x) for x in data.get("notes") or []],
            records=int(data.get("records") or 0),
        )

    def weights(self) -> dict[str, list[float]]:
        """log2(m/u) per comparison and level: what each level adds to the match weight."""
        return {
            name: [
                float(np.log2(mi / ui)) for mi, ui in zip(self.m[name], self.u[name], strict=True)
            ]
            for name in self.m
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a job record (JSON-serialisable)."""
        return {
            "prior": self.prior,
            "m": self.m,
            "u": self.u,
            "weights_log2": self.weights(),
            "levels": {name: list(COMPARISONS.get(name, ())) for name in self.m},
            "iterations": self.iterations,
            "converged": self.converged,
            "notes": list(self.notes),
            "records": self.records,
        }


@dataclass(frozen=True)
class Thresholds:
    """On the match probability: ≥ upper links; [lower, upper) goes to review."""

    upper: float
    lower: float
    method: str

    def __post_init__(self) -> None:
        if not 0.0 < self.lower <= self.upper < 1.0 + 1e-12:
            raise InputError(
                f"thresholds must satisfy 0 < lower ≤ upper ≤ 1 (got {self.lower}, {self.upper})"
            )


def match_weight(model: FellegiSunterModel, levels: Mapping[str, np.ndarray]) -> np.ndarray:
    """log2 Bayes factor plus log2 prior odds, per pair."""
    n = len(next(iter(levels.values())))
    w = np.full(n, np.log2(model.prior / (1.0 - model.prior)))
    for name, lev in levels.items():
        if name not in model.m:
            continue
        table = np.log2(np.asarray(model.m[name]) / np.asarray(model.u[name]))
        # A model recorded before a level was split off lacks it: its last level stands in.
        # Index −1 (missing) takes the appended 0.0: no evidence, w unchanged.
        top = max(int(lev.max(initial=0)), 0)
        ext = np.r_[table[np.minimum(np.arange(top + 1), len(table) - 1)], 0.0]
        w += ext[lev]
    return w


def match_probability(model: FellegiSunterModel, levels: Mapping[str, np.ndarray]) -> np.ndarray:
    """Posterior probability that each pair is the same person."""
    w = np.clip(match_weight(model, levels), -60, 60)
    return 1.0 / (1.0 + np.exp2(-w))


def constrained_probability(
    model: FellegiSunterModel,
    levels: Mapping[str, np.ndarray],
    *,
    incompatible: dict[str, tuple[int, ...]] | None = None,
    cap: float = 1e-3,
) -> np.ndarray:
    """``match_probability``, capped at ``cap`` for pairs at an incompatible level.

    ``incompatible`` maps a comparison to levels that rule a pair out however similar the
    encodings are (default ``INCOMPATIBLE``: sexes recorded differently, birth years more than
    ``FAR_YEARS`` apart). Naive-Bayes weights cannot learn this: among all candidates such
    disagreements are rare for non-matches too, but among the near-identical ones (twins,
    a mother and her namesake daughter) they are what tells the two apart.

    >>> model = FellegiSunterModel(prior=0.5, m={"dice": [0.1, 0.9], "sex": [0.99, 0.01]},
    ...                            u={"dice": [0.9, 0.1], "sex": [0.7, 0.3]})
    >>> levels = {"dice": np.array([1, 1]), "sex": np.array([0, 1])}
    >>> constrained_probability(model, levels).round(3).tolist()
    [0.927, 0.001]
    """
    p = match_probability(model, levels)
    rules = INCOMPATIBLE if incompatible is None else incompatible
    bad = np.zeros(len(p), dtype=bool)
    evidence = _identity_evidence(levels)
    for name, bad_levels in rules.items():
        if name in levels:
            hit = np.isin(levels[name], bad_levels)
            for kind in OVERRIDABLE.get(name, ()):
                hit &= ~evidence[kind]
            bad |= hit
    return np.where(bad, np.minimum(p, cap), p)


def _identity_evidence(levels: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per kind of evidence, the pairs in which it says one person (see ``OVERRIDABLE``)."""
    n = len(next(iter(levels.values()))) if levels else 0
    none = np.zeros(n, dtype=bool)
    high = int(np.searchsorted(DICE_LEVELS, OVERRIDE_DICE)) + 1
    return {
        "document": levels["doc_hash"] == 0 if "doc_hash" in levels else none,
        "family": levels["family"] == 0 if "family" in levels else none,
        "dice": levels["dice"] >= high if "dice" in levels else none,
    }


def apart_mask(
    levels: Mapping[str, np.ndarray], *, apart: dict[str, tuple[int, ...]] | None = None
) -> np.ndarray | None:
    """Pairs at a level of ``apart`` (default ``APART``); None when no such comparison exists.

    >>> apart_mask({"family": np.array([0, 2, -1]), "dice": np.array([5, 5, 5])}).tolist()
    [False, True, False]
    """
    rules = APART if apart is None else apart
    present = [name for name in rules if name in levels]
    if not present:
        return None
    out = np.zeros(len(levels[present[0]]), dtype=bool)
    for name in present:
        out |= np.isin(levels[name], rules[name])
    return out


def _level_counts(levels: Mapping[str, np.ndarray]) -> dict[str, int]:
    return {
        name: len(COMPARISONS.get(name, ())) or int(lev.max()) + 1 for name, lev in levels.items()
    }


def _monotone(m: list[float], u: list[float], direction: int) -> list[float]:
    """m with m/u monotone along the levels (pooled adjacent violators; u and Σm kept).

    >>> [round(x, 2) for x in _monotone([0.5, 0.5], [0.8, 0.2], -1)]
    [0.8, 0.2]
    """
    blocks: list[list[float]] = []  # [start, end, Σm, Σu]
    for i, (mi, ui) in enumerate(zip(m, u, strict=True)):
        blocks.append([i, i + 1, mi, ui])
        while len(blocks) > 1:
            a, b = blocks[-2], blocks[-1]
            if direction * (b[2] / b[3] - a[2] / a[3]) >= 0:
                break
            blocks[-2:] = [[a[0], b[1], a[2] + b[2], a[3] + b[3]]]
    if len(blocks) == len(m):
        return m
    out = list(m)
    for start, end, total_m, total_u in blocks:
        for i in range(int(start), int(end)):
            out[i] = total_m / total_u * u[i]
    return out


def _m_step(
    levels: Mapping[str, np.ndarray],
    resp: np.ndarray,
    sizes: dict[str, int],
    pseudo: float,
    fixed_u: dict[str, list[float]],
    u_prior: dict[str, list[float]] | None = None,
    u_prior_weight: float = 0.0,
    counts: np.ndarray | None = None,
) -> tuple[float, dict[str, list[float]], dict[str, list[float]]]:
    """M step; with ``counts`` each row of ``levels`` stands for that many identical pairs."""
    # Per pair (the first step, millions of pairs) the weights are taken per comparison and
    # only where it is present: no whole-length copies beyond those (same sums as before).
    if counts is None:
        match_w, non_w = resp, None
        prior = float(np.clip(resp.mean(), 1e-6, 1 - 1e-6))
    else:
        match_w, non_w = resp * counts, (1 - resp) * counts
        prior = float(np.clip(match_w.sum() / counts.sum(), 1e-6, 1 - 1e-6))
    m: dict[str, list[float]] = {}
    u: dict[str, list[float]] = {}
    for name, lev in levels.items():
        present = lev >= 0
        whole = bool(present.all())
        at = lev if whole else lev[present]
        k = sizes[name]
        mw = match_w if whole else match_w[present]
        cm = np.bincount(at, weights=mw, minlength=k)[:k] + pseudo
        m[name] = (cm / cm.sum()).tolist()
        if name in fixed_u:
            u[name] = list(fixed_u[name])
        else:
            nw = 1 - mw if non_w is None else (non_w if whole else non_w[present])
            cu = np.bincount(at, weights=nw, minlength=k)[:k] + pseudo
            if u_prior and name in u_prior:
                cu = cu + u_prior_weight * np.asarray(u_prior[name], dtype=float)
            u[name] = (cu / cu.sum()).tolist()
        if name in MONOTONE and len(m[name]) > 1:
            m[name] = _monotone(m[name], u[name], MONOTONE[name])
    return prior, m, u


def level_patterns(
    levels: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The distinct comparison vectors: (their levels, index of each pair's, pairs per vector).

    Pairs with one vector get one probability, so EM and scoring work on the few hundred
    distinct vectors instead of millions of pairs: ``levels[k] == patterns[k][inverse]``.

    >>> pat, inverse, counts = level_patterns({"dice": np.array([3, 1, 3]),
    ...                                        "sex": np.array([0, -1, 0])})
    >>> {k: v.tolist() for k, v in pat.items()}, inverse.tolist(), counts.tolist()
    ({'dice': [1, 3], 'sex': [-1, 0]}, [1, 0, 1], [1, 2])
    """
    names = list(levels)
    n = len(levels[names[0]]) if names else 0
    radix = [max(int(levels[k].max(initial=-1)) + 2, 1) for k in names]
    space = 1
    for r in radix:
        space *= r
    if space < 2**62:
        code = np.zeros(n, dtype=np.int64)
        for name, r in zip(names, radix, strict=True):
            code *= r
            code += levels[name].astype(np.int64) + 1
        # A hash pass (the vectors are a few thousand), then the vectors in code order: the
        # result of np.unique without its sort of every pair, and without a count per code of
        # the whole space (tens of millions at national scale).
        first_seen, found = pd.factorize(code, sort=False)
        order = np.argsort(found, kind="stable")
        uniq = np.asarray(found)[order]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        inverse = rank[first_seen]
        del first_seen
        counts = np.bincount(inverse, minlength=len(uniq))
        patterns: dict[str, np.ndarray] = {}
        rest = uniq.astype(np.int64)
        for name, r in reversed(list(zip(names, radix, strict=True))):
            patterns[name] = (rest % r - 1).astype(levels[name].dtype)
            rest = rest // r
        return {k: patterns[k] for k in names}, inverse.reshape(-1), counts
    stacked = np.stack([levels[k].astype(np.int64) for k in names], axis=1)
    rows, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    pats = {k: rows[:, i].astype(levels[k].dtype) for i, k in enumerate(names)}
    return pats, inverse.reshape(-1), counts


def estimate_model(
    levels: Mapping[str, np.ndarray],
    *,
    dice: np.ndarray,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
    pseudo_count: float = 0.5,
    fixed: FellegiSunterModel | None = None,
    fixed_u: dict[str, list[float]] | None = None,
    u_prior: dict[str, list[float]] | None = None,
    u_prior_weight: float = 1000.0,
) -> FellegiSunterModel:
    """Estimate λ, m and u by EM over candidate pairs (no labels).

    EM starts from responsibilities set by Dice alone (a logistic around 0.85), so the
    "match" class is the high-similarity one. ``fixed_u`` holds u probabilities measured
    elsewhere (``u_from_random_pairs``: almost every random pair is a non-match), which EM
    then keeps: as in Splink, this anchors the "non-match" class when candidates are mostly
    matches (small inputs), where free EM can swap the classes. With ``fixed`` the given
    model is returned unchanged (a job that reuses recorded weights). ``u_prior`` (also from
    random pairs) is the softer anchor: a Dirichlet prior worth ``u_prior_weight`` non-match
    pairs on each u. Candidate non-matches share names, and with them sex, nationality and
    region, far more often than random pairs do, so where candidates hold many non-matches
    their own counts must win (fixed random-pair u there made EM call 89 % of the candidates
    of 6,000 synthetic people matches); where they hold few, the prior keeps the classes apart.
    Too few pairs (< 50) give a model with a note, estimated all the same.

    >>> rng = np.random.default_rng(0)
    >>> is_match = rng.random(4000) < 0.3
    >>> d = np.where(is_match, rng.uniform(0.85, 1, 4000), rng.uniform(0.7, 0.85, 4000))
    >>> lv = {"dice": np.searchsorted(DICE_LEVELS, d, side="right").astype(np.int8)}
    >>> sorted(estimate_model(lv, dice=d).m)
    ['dice']
    """
    if fixed is not None:
        return fixed
    if not levels or "dice" not in levels:
        raise InputError("levels must contain at least the 'dice' comparison")
    n = len(levels["dice"])
    sizes = _level_counts(levels)
    notes = []
    if n < 50:
        notes.append(f"only {n} candidate pairs: m/u estimates are rough")
    if n == 0:
        return FellegiSunterModel(
            prior=0.5,
            m={k: [1.0 / s] * s for k, s in sizes.items()},
            u={k: [1.0 / s] * s for k, s in sizes.items()},
            notes=notes,
        )
    fixed_u = {k: v for k, v in (fixed_u or {}).items() if k in levels}
    resp = 1.0 / (1.0 + np.exp(-40.0 * (np.asarray(dice, dtype=float) - 0.85)))
    u_prior = {k: v for k, v in (u_prior or {}).items() if k in levels and k not in fixed_u}
    prior, m, u = _m_step(levels, resp, sizes, pseudo_count, fixed_u, u_prior, u_prior_weight)
    # After the first step a pair's responsibility depends on its comparison vector only.
    patterns, _, counts = level_patterns(levels)
    weights = counts.astype(float)
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007
        model = FellegiSunterModel(prior=prior, m=m, u=u)
        resp = match_probability(model, patterns)
        new_prior, new_m, new_u = _m_step(
            patterns, resp, sizes, pseudo_count, fixed_u, u_prior, u_prior_weight, weights
        )
        change = abs(new_prior - prior) + max(
            float(np.max(np.abs(np.asarray(new_m[k]) - np.asarray(m[k])))) for k in m
        )
        prior, m, u = new_prior, new_m, new_u
        if change < tolerance:
            converged = True
            break
    return FellegiSunterModel(
        prior=prior, m=m, u=u, iterations=iterations, converged=converged, notes=notes
    )


def u_from_random_pairs(
    attributes: PairAttributes, *, samples: int = 100_000, seed: int = 0, pseudo_count: float = 0.5,
    codes: AttributeCodes | None = None,
) -> dict[str, list[float]]:
    """u probabilities of the attribute comparisons (not Dice) from random record pairs.

    Among random pairs matches are negligible (about persons⁻¹), so level frequencies there
    estimate u directly, without labels.

    >>> attrs = PairAttributes(sources=np.zeros(1000), sex=np.array(["F", "M"] * 500, dtype=object))
    >>> [round(x, 1) for x in u_from_random_pairs(attrs)["sex"]]
    [0.5, 0.5]
    """
    n = len(attributes.sources)
    if n < 2:
        return {}
    rng = np.random.default_rng(seed)
    a = rng.integers(n, size=samples)
    b = rng.integers(n, size=samples)
    keep = a != b
    a, b = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    levels = compare_pairs(left=a, right=b, dice=np.zeros(len(a)), attributes=attributes,
                           codes=codes)
    levels.pop("dice")
    sizes = _level_counts(levels)
    out = {}
    for name, lev in levels.items():
        present = lev >= 0
        counts = np.bincount(lev[present], minlength=sizes[name])[: sizes[name]] + pseudo_count
        out[name] = (counts / counts.sum()).tolist()
    return out


def u_from_far_pairs(
    levels: Mapping[str, np.ndarray],
    *,
    names: tuple[str, ...] = FAR_PAIR_U,
    min_pairs: int = 1000,
    pseudo_count: float = 0.5,
) -> dict[str, list[float]]:
    """u of the comparisons in ``names``: their level frequencies among candidate pairs whose
    birth years are ``far`` apart (almost all non-matches); {} when fewer than ``min_pairs``.

    Random pairs cannot give u for Dice, nor for the document levels that depend on it (their
    Dice lies far below the candidate floor), and free EM loses both when the candidates grow
    quadratically with the records: at 100,000 records per source (22 M candidates) it made
    Dice ≥ 0.77 the "match" class (u = 0 there, λ = 0.12) and precision fell to 0.37.
    Far-apart candidates hold mother/daughter namesakes as well as strangers: the
    non-matches that come closest, so the u they give errs high, towards fewer links.

    >>> lv = {"dice": np.array([0, 0, 1, 8]), "birth_year": np.array([3, 3, 3, 0])}
    >>> [round(x, 3) for x in u_from_far_pairs(lv, min_pairs=3)["dice"]][:3]
    [0.333, 0.2, 0.067]
    """
    if "birth_year" not in levels:
        return {}
    far = levels["birth_year"] == 3
    if int(far.sum()) < min_pairs:
        return {}
    out = {}
    for name in names:
        if name not in levels:
            continue
        k = len(COMPARISONS[name])
        lev = levels[name][far]
        counts = np.bincount(lev[lev >= 0], minlength=k)[:k] + pseudo_count
        out[name] = (counts / counts.sum()).tolist()
    return out


def document_equal_u(far_u: dict[str, list[float]], random_u: dict[str, list[float]]
                     ) -> dict[str, list[float]]:
    """``far_u`` with u(document equal) taken from random pairs, the other document levels
    rescaled to fill the rest.

    Among far-apart candidates an equal keyed document is mostly one person whose birth date
    was written wrongly (such a pair is a candidate *because* the documents agree), not two
    persons: on FEBRL 4, where a tenth of the duplicates carry another birth date, the far
    pairs gave u(equal) = 0.09 and a shared document weighed +3.3 log2, less than a far birth
    year takes away, so 200 of 5,000 true pairs with the same number stayed apart. Random
    pairs share a document only by a registry's error, which is what u(equal) should measure.

    >>> far = {"doc_hash": [0.1, 0.3, 0.6], "dice": [0.9, 0.1]}
    >>> out = document_equal_u(far, {"doc_hash": [0.001, 0.5, 0.499]})
    >>> [round(x, 4) for x in out["doc_hash"]], out["dice"]
    ([0.001, 0.333, 0.666], [0.9, 0.1])
    """
    if "doc_hash" not in far_u or "doc_hash" not in random_u:
        return far_u
    equal = min(far_u["doc_hash"][0], random_u["doc_hash"][0])
    rest = far_u["doc_hash"][1:]
    scale = (1.0 - equal) / sum(rest) if sum(rest) > 0 else 0.0
    return {**far_u, "doc_hash": [equal, *(x * scale for x in rest)]}


def choose_thresholds(
    probability: np.ndarray,
    *,
    max_false_link_rate: float = 0.005,
    max_missed_rate: float = 0.005,
    floor_upper: float = 0.5,
) -> Thresholds:
    """Upper and lower thresholds on the match probability, from the posterior itself.

    upper: the lowest t ≥ ``floor_upper`` with mean(1 − p | p ≥ t) ≤ max_false_link_rate
    (expected share of wrong auto-links). lower: the highest t ≤ upper with
    Σ p[p < t] ≤ max_missed_rate · Σ p (expected share of true matches never seen by anyone).

    >>> t = choose_thresholds(np.r_[np.full(990, 0.999), np.full(10, 0.5), np.full(1000, 0.001)])
    >>> (t.upper, t.lower)
    (0.999, 0.5)
    """
    p = np.sort(np.asarray(probability, dtype=float))[::-1]
    if not 0 < max_false_link_rate < 1 or not 0 < max_missed_rate < 1:
        raise InputError("rates must be in (0, 1)")
    if len(p) == 0:
        return Thresholds(upper=0.99, lower=0.5, method="default (no candidate pairs)")
    false_share = np.cumsum(1.0 - p) / np.arange(1, len(p) + 1)
    tie_end = np.r_[p[1:] != p[:-1], True]  # a threshold takes every pair with p ≥ t
    ok = np.flatnonzero((false_share <= max_false_link_rate) & (p >= floor_upper) & tie_end)
    upper = float(p[ok[-1]]) if len(ok) else 0.99
    upper = max(upper, floor_upper)
    asc = p[::-1]
    below = np.cumsum(asc) - asc  # Σ p strictly before each position (ascending)
    allowed = max_missed_rate * float(p.sum())
    tie_start = np.r_[True, asc[1:] != asc[:-1]]
    cand = np.flatnonzero((below <= allowed) & (asc <= upper) & tie_start)
    lower = float(asc[cand[-1]]) if len(cand) else upper
    lower = min(max(lower, 1e-6), upper)
    return Thresholds(upper=upper, lower=lower, method="em-posterior")
