"""Quality logic of the linkage core on hand-made data with known answers: UBIGEO levels,
far birth years, incompatibility constraints, EM with a random-pair prior on u, and the
review-band cap."""

from __future__ import annotations

import numpy as np
import pytest

from linkage_service.linkage import LinkInputs, LinkParams, link
from linkage_service.linkage.link import _cap_review
from linkage_service.linkage.scoring import (
    OVERRIDE_DICE,
    FellegiSunterModel,
    PairAttributes,
    Thresholds,
    compare_pairs,
    constrained_probability,
    estimate_model,
    match_probability,
)


def test_ubigeo_levels_at_the_finest_common_precision() -> None:
    codes = np.array(["150101", "150101", "1501", "150102", "15", "160101", ""], dtype=object)
    attrs = PairAttributes(sources=np.zeros(7), ubigeo_birth=codes)
    v = compare_pairs(left=np.zeros(6, dtype=np.int64), right=np.arange(1, 7),
                      dice=np.full(6, 0.8), attributes=attrs)
    # same district; province (one side coarsened); same province, other district;
    # department (coarsened to 2); other department; missing
    assert v["ubigeo_birth"].tolist() == [0, 1, 1, 2, 3, -1]


def test_birth_years_far_apart_are_their_own_level() -> None:
    attrs = PairAttributes(
        sources=np.zeros(5),
        birth_year_min=np.array([1990, 1990, 1993, 1996, 1970]),
        birth_year_max=np.array([1990, 1990, 1993, 1996, 1972]),
    )
    v = compare_pairs(left=np.zeros(4, dtype=np.int64), right=np.arange(1, 5),
                      dice=np.full(4, 0.8), attributes=attrs)
    # same year; 3 apart: disjoint; 6 apart: far; 18 apart (range): far
    assert v["birth_year"].tolist() == [0, 2, 3, 3]


def test_incompatible_levels_cap_the_probability_whatever_the_weights() -> None:
    model = FellegiSunterModel(
        prior=0.5,
        m={"dice": [0.01, 0.99], "sex": [0.99, 0.01], "birth_year": [0.9, 0.05, 0.04, 0.01]},
        u={"dice": [0.99, 0.01], "sex": [0.7, 0.3], "birth_year": [0.1, 0.2, 0.3, 0.4]},
    )
    levels = {"dice": np.array([1, 1, 1, 1]), "sex": np.array([0, 1, -1, 0]),
              "birth_year": np.array([0, 0, 3, 2])}
    p = constrained_probability(model, levels)
    assert p[0] > 0.999 and p[3] > 0.9  # disjoint (not far) years are evidence, not a rule
    assert p[1] == pytest.approx(1e-3) and p[2] == pytest.approx(1e-3)
    free = constrained_probability(model, levels, incompatible={})
    assert free[1] > 0.9


def test_em_learns_u_among_candidates_where_non_matches_share_attributes() -> None:
    # Candidate non-matches agree on nationality 95 % of the time (names follow nationality),
    # random pairs only 50 %: with u fixed from random pairs nationality would count as strong
    # match evidence; with the random-pair u as a prior, EM learns the candidates' own u.
    rng = np.random.default_rng(3)
    n = 40_000
    match = rng.random(n) < 0.2
    dice = np.where(match, rng.uniform(0.8, 1.0, n), rng.uniform(0.7, 0.86, n))
    levels = {
        "dice": np.searchsorted([0.74, 0.77, 0.8, 0.83, 0.86, 0.89, 0.92, 0.95], dice,
                                side="right").astype(np.int8),
        "nationality": np.where(match, rng.random(n) < 0.01, rng.random(n) < 0.05).astype(np.int8),
        "birth_year": np.where(match, rng.random(n) < 0.1, rng.random(n) < 0.8).astype(np.int8),
    }
    random_u = {"nationality": [0.5, 0.5]}
    free = estimate_model(levels, dice=dice, max_iterations=1000)
    assert free.prior == pytest.approx(0.2, abs=0.01)
    assert free.u["nationality"][0] == pytest.approx(0.95, abs=0.01)
    # the prior (1,000 pairs against 32,000 non-matches) pulls a little, not to 0.5
    soft = estimate_model(levels, dice=dice, u_prior=random_u, u_prior_weight=1000,
                          max_iterations=1000)
    assert soft.prior == pytest.approx(0.2, abs=0.05)
    assert soft.u["nationality"][0] == pytest.approx(0.95, abs=0.03)
    assert abs(soft.weights()["nationality"][0]) < 0.2  # agreement: hardly any evidence
    hard = estimate_model(levels, dice=dice, fixed_u=random_u)
    assert hard.weights()["nationality"][0] > 0.9  # the bias the prior avoids


def test_review_cap_keeps_the_most_probable_pairs_within_the_record_budget() -> None:
    left = np.array([0, 2, 4, 0, 6, 8])
    right = np.array([1, 3, 5, 2, 7, 9])
    prob = np.array([0.8, 0.7, 0.6, 0.65, 0.3, 0.2])
    order = np.argsort(-prob, kind="stable")  # pairs 0, 1, 3, 2, 4, 5
    t = Thresholds(upper=0.9, lower=0.1, method="em-posterior")
    kept, capped = _cap_review(order, left, right, prob, t, max_records=5)
    # pairs 0 (0,1), 1 (2,3), 3 (0,2: no new record) fit in 4 records; pair 2 would make 6
    assert kept.tolist() == [0, 1, 3]
    assert capped.lower == pytest.approx(0.65) and capped.upper == 0.9
    assert "review capped" in capped.method
    same, unchanged = _cap_review(order, left, right, prob, t, max_records=100)
    assert same.tolist() == order.tolist() and unchanged == t


def _sex_pairs(flip: float) -> tuple[LinkInputs, np.ndarray]:
    """200 pairs of encodings ``flip`` apart (bits flipped), the second of each marked male."""
    rng = np.random.default_rng(5)
    n = 400
    base = rng.random((n // 2, 1024)) < 0.2
    noise = rng.random((n // 2, 1024)) < flip
    bits = np.concatenate([base, base ^ noise])
    clks = np.packbits(bits, axis=1)
    sex = np.array(["F"] * (n // 2) + ["M"] * (n // 2), dtype=object)
    sources = np.array([1] * (n // 2) + [2] * (n // 2))
    both = (bits[: n // 2] & bits[n // 2 :]).sum(axis=1)
    dice = 2 * both / (bits[: n // 2].sum(axis=1) + bits[n // 2 :].sum(axis=1))
    return LinkInputs(clks=clks, sources=sources, sex=sex), dice


def test_job_keeps_twins_of_different_sex_apart() -> None:
    # Twins of the other sex: surnames, birth date and places agree, given names do not.
    inputs, dice = _sex_pairs(0.1)
    assert dice.min() > 0.7 and dice.max() < OVERRIDE_DICE
    fixed = Thresholds(upper=0.5, lower=0.1, method="x")
    plain = link(inputs, LinkParams(blocking="exact", incompatible={}, thresholds=fixed))
    kept = link(inputs, LinkParams(blocking="exact", thresholds=fixed))
    assert len(plain.auto_links) > 0
    assert len(kept.auto_links) == 0
    assert len(set(kept.labels.tolist())) == len(dice) * 2


def test_a_sex_recorded_wrongly_does_not_split_near_identical_encodings() -> None:
    # One person, her sex mis-recorded in one registry: Dice ≥ OVERRIDE_DICE overrides the rule.
    inputs, dice = _sex_pairs(0.01)
    assert dice.min() >= OVERRIDE_DICE
    result = link(inputs, LinkParams(blocking="exact",
                                     thresholds=Thresholds(upper=0.5, lower=0.1, method="x")))
    assert len(result.auto_links) == len(dice)
    assert len(set(result.labels.tolist())) == len(dice)


def test_different_documents_with_a_distant_encoding_rule_a_pair_out() -> None:
    # records 0/1: twins (own DNIs, Dice 0.75); 0/2: the same person with a mistyped DNI
    # (Dice 0.9); 0/3: a namesake without a document (no document evidence either way).
    docs = np.array([[1] * 32, [2] * 32, [3] * 32, [0] * 32], dtype=np.uint8)
    attrs = PairAttributes(sources=np.array([0, 1, 1, 1]), doc_hash=docs)
    v = compare_pairs(left=np.zeros(3, dtype=np.int64), right=np.arange(1, 4),
                      dice=np.array([0.75, 0.9, 0.75]), attributes=attrs)
    assert v["doc_hash"].tolist() == [2, 1, -1]
    model = FellegiSunterModel(prior=0.5, m={"dice": [0.2, 0.8], "doc_hash": [0.6, 0.3, 0.1]},
                               u={"dice": [0.8, 0.2], "doc_hash": [0.01, 0.5, 0.49]})
    levels = {"dice": np.array([1, 1, 1]), "doc_hash": v["doc_hash"]}
    p = constrained_probability(model, levels)
    assert p[0] <= 1e-3 < 0.5 < p[1]
    assert p[2] == pytest.approx(0.8)


def test_a_model_recorded_before_the_document_split_scores_the_new_level_as_different() -> None:
    old = FellegiSunterModel(prior=0.5, m={"doc_hash": [0.6, 0.4]}, u={"doc_hash": [0.1, 0.9]})
    p = match_probability(old, {"doc_hash": np.array([1, 2])})
    assert p[0] == pytest.approx(p[1]) == pytest.approx(0.4 / 1.3)
