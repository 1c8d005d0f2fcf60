"""Vectorised scoring gives the per-pair answers: integer attribute codes against a per-pair
reference over the raw strings, EM over distinct comparison vectors against EM over every
pair, and the pattern table's round trip."""

from __future__ import annotations

import numpy as np

from linkage_service.linkage.scoring import (
    DOC_DIFFERENT_LOW_DICE,
    FellegiSunterModel,
    PairAttributes,
    _level_counts,
    _m_step,
    compare_pairs,
    encode_attributes,
    estimate_model,
    level_patterns,
    match_probability,
    u_from_far_pairs,
)


def _random_attributes(n: int, rng: np.random.Generator) -> PairAttributes:
    ubigeo_pool = np.array(["150101", "150102", "1501", "150201", "15", "16", "160101", "", "0"])
    docs = np.zeros((n, 32), dtype=np.uint8)
    kinds = rng.integers(0, 4, size=n)  # 0: none, 1–3: one of three documents
    for k in (1, 2, 3):
        docs[kinds == k] = np.frombuffer(bytes([k]) * 32, dtype=np.uint8)
    return PairAttributes(
        sources=rng.integers(0, 3, size=n),
        sex=rng.choice(np.array(["F", "M", ""], dtype=object), size=n),
        nationality=rng.choice(np.array(["PER", "VEN", ""], dtype=object), size=n),
        event_date=rng.choice(np.array(["2024-01-02", "2024-03-04", ""], dtype=object), size=n),
        doc_hash=docs,
        ubigeo_birth=rng.choice(ubigeo_pool, size=n).astype(object),
        ubigeo_event=rng.choice(ubigeo_pool, size=n).astype(object),
    )


def _reference_levels(a: PairAttributes, i: int, j: int, dice: float) -> dict[str, int]:
    """The documented rules, pair by pair on the raw values."""

    def str_level(values: np.ndarray) -> int:
        x, y = values[i], values[j]
        return -1 if "" in (x, y) else int(x != y)

    def ubigeo(values: np.ndarray) -> int:
        x, y = str(values[i]), str(values[j])
        common = min(len(x), len(y))
        if common < 2:
            return -1
        for width, level in ((6, 0), (4, 1)):
            if common >= width and x[:width] == y[:width]:
                return level
        return 2 if x[:2] == y[:2] else 3

    assert a.doc_hash is not None and a.ubigeo_birth is not None and a.ubigeo_event is not None
    has = a.doc_hash[i].any() and a.doc_hash[j].any()
    if not has:
        doc = -1
    elif (a.doc_hash[i] == a.doc_hash[j]).all():
        doc = 0
    else:
        doc = 2 if dice < DOC_DIFFERENT_LOW_DICE else 1
    same = a.sources[i] == a.sources[j]
    assert a.event_date is not None
    same_event = same and a.event_date[i] != "" and a.event_date[i] == a.event_date[j]
    assert a.sex is not None and a.nationality is not None
    return {
        "sex": str_level(a.sex),
        "doc_hash": doc,
        "nationality": str_level(a.nationality),
        "ubigeo_birth": ubigeo(a.ubigeo_birth),
        "ubigeo_event": ubigeo(a.ubigeo_event),
        "same_source": 2 if same_event else int(same),
    }


def test_integer_codes_give_the_per_pair_string_comparisons() -> None:
    rng = np.random.default_rng(3)
    attrs = _random_attributes(300, rng)
    left = rng.integers(0, 300, size=2000)
    right = rng.integers(0, 300, size=2000)
    dice = rng.uniform(0.7, 1.0, size=2000)
    got = compare_pairs(left=left, right=right, dice=dice, attributes=attrs)
    again = compare_pairs(left=left, right=right, dice=dice, attributes=attrs,
                          codes=encode_attributes(attrs))
    for name in got:
        assert np.array_equal(got[name], again[name]), name
    for k in range(len(left)):
        ref = _reference_levels(attrs, int(left[k]), int(right[k]), float(dice[k]))
        assert {name: int(got[name][k]) for name in ref} == ref, k
    assert set(got["ubigeo_birth"].tolist()) == {-1, 0, 1, 2, 3}
    assert set(got["doc_hash"].tolist()) == {-1, 0, 1, 2}


def test_level_patterns_round_trip_in_every_branch() -> None:
    rng = np.random.default_rng(5)
    small = {"dice": rng.integers(0, 9, 5000).astype(np.int8),
             "sex": rng.integers(-1, 2, 5000).astype(np.int8)}
    wide = {f"c{k}": rng.integers(-1, 120, 5000).astype(np.int16) for k in range(4)}
    huge = {f"c{k}": rng.integers(-1, 120, 500).astype(np.int16) for k in range(10)}
    for levels in (small, wide, huge):
        patterns, inverse, counts = level_patterns(levels)
        assert list(patterns) == list(levels)
        assert counts.sum() == len(inverse) and (counts > 0).all()
        for name, lev in levels.items():
            assert np.array_equal(patterns[name][inverse], lev)
            assert patterns[name].dtype == lev.dtype
        rows = np.stack([patterns[k] for k in levels], axis=1)
        assert len(np.unique(rows, axis=0)) == len(rows)  # each vector once


def _per_pair_em(levels: dict[str, np.ndarray], dice: np.ndarray) -> FellegiSunterModel:
    """EM as it ran before patterns: every iteration over every pair."""
    sizes = _level_counts(levels)
    resp = 1.0 / (1.0 + np.exp(-40.0 * (dice - 0.85)))
    prior, m, u = _m_step(levels, resp, sizes, 0.5, {})
    for iterations in range(1, 201):  # noqa: B007
        resp = match_probability(FellegiSunterModel(prior=prior, m=m, u=u), levels)
        new_prior, new_m, new_u = _m_step(levels, resp, sizes, 0.5, {})
        change = abs(new_prior - prior) + max(
            float(np.max(np.abs(np.asarray(new_m[k]) - np.asarray(m[k])))) for k in m)
        prior, m, u = new_prior, new_m, new_u
        if change < 1e-6:
            break
    return FellegiSunterModel(prior=prior, m=m, u=u, iterations=iterations, converged=True)


def test_em_over_distinct_vectors_equals_em_over_every_pair() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    match = rng.random(n) < 0.25
    dice = np.where(match, rng.uniform(0.8, 1.0, n), rng.uniform(0.7, 0.88, n))
    levels = {
        "dice": np.searchsorted([0.74, 0.8, 0.86, 0.92], dice, side="right").astype(np.int8),
        "sex": np.where(rng.random(n) < 0.1, -1,
                        np.where(match, rng.random(n) < 0.03, rng.random(n) < 0.4)).astype(np.int8),
        "birth_year": np.where(match, rng.choice(4, n, p=[0.8, 0.15, 0.04, 0.01]),
                               rng.choice(4, n, p=[0.2, 0.3, 0.3, 0.2])).astype(np.int8),
    }
    fast = estimate_model(levels, dice=dice)
    slow = _per_pair_em(levels, dice)
    assert fast.iterations == slow.iterations
    assert abs(fast.prior - slow.prior) < 1e-10
    for name in levels:
        assert np.allclose(fast.m[name], slow.m[name], rtol=0, atol=1e-10)
        assert np.allclose(fast.u[name], slow.u[name], rtol=0, atol=1e-10)
    assert abs(fast.prior - 0.25) < 0.03  # and it is a sensible model, not just a copy


def test_em_keeps_weights_monotone_along_ordered_levels() -> None:
    # An equal document is rarer among these non-matches than a different one is among the
    # matches relative to its own rate: free counts would weigh "different" above "equal".
    rng = np.random.default_rng(13)
    n = 30_000
    match = rng.random(n) < 0.3
    dice = np.where(match, rng.uniform(0.82, 1.0, n), rng.uniform(0.7, 0.86, n))
    doc = np.where(match, rng.choice(3, n, p=[0.5, 0.3, 0.2]),
                   rng.choice(3, n, p=[0.05, 0.001, 0.949])).astype(np.int8)
    labelled = [np.mean(doc[match] == k) / np.mean(doc[~match] == k) for k in range(3)]
    assert labelled[1] > labelled[0]  # the violation is in the data itself
    levels = {"dice": np.searchsorted([0.8, 0.9], dice, side="right").astype(np.int8),
              "doc_hash": doc}
    w = estimate_model(levels, dice=dice).weights()
    assert w["doc_hash"][0] >= w["doc_hash"][1] - 1e-9 >= w["doc_hash"][2] - 1e-9
    assert abs(w["doc_hash"][0] - w["doc_hash"][1]) < 1e-9  # pooled, not reordered
    assert w["dice"] == sorted(w["dice"])


def test_far_pair_u_counts_far_apart_candidates_only() -> None:
    levels = {
        "dice": np.array([0, 0, 1, 8, 8, 8], dtype=np.int8),
        "doc_hash": np.array([2, -1, 1, 0, 0, 0], dtype=np.int8),
        "birth_year": np.array([3, 3, 3, 0, 0, -1], dtype=np.int8),
    }
    u = u_from_far_pairs(levels, min_pairs=3, pseudo_count=0.0)
    assert u["dice"][:2] == [2 / 3, 1 / 3] and u["dice"][8] == 0.0
    assert u["doc_hash"] == [0.0, 0.5, 0.5, 0.0, 0.0]  # the missing document is no evidence
    assert u_from_far_pairs(levels, min_pairs=4) == {}
    u = u_from_far_pairs(levels, min_pairs=3)
    model = estimate_model(levels, dice=np.array([0.7, 0.7, 0.75, 0.97, 0.98, 0.99]), fixed_u=u)
    assert model.u["dice"] == u["dice"] and model.u["doc_hash"] == u["doc_hash"]
    assert model.weights()["dice"][8] > 0 > model.weights()["dice"][0]
