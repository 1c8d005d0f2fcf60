"""Similarity, blocking recall, EM and the job on synthetic CLKs (no real people)."""

from __future__ import annotations

import numpy as np
import pytest

from linkage_service.linkage.blocking import LshParams, lsh_candidate_pairs, pairs_within_groups
from linkage_service.linkage.link import LinkInputs, LinkParams, link
from linkage_service.linkage.scoring import (
    PairAttributes,
    choose_thresholds,
    compare_pairs,
    estimate_model,
)
from linkage_service.linkage.similarity import (
    dice_candidates,
    dice_candidates_within,
    dice_of_pairs,
    popcounts,
)
from vinculo_common.errors import InputError
from vinculo_lab.synthetic_clks import synthetic_registries


def test_dice_against_hand_computed_value() -> None:
    clks = np.zeros((2, 128), dtype=np.uint8)
    clks[0, 0] = 0b1111_0000  # bits 0-3 (big-endian within the byte)
    clks[0, 127] = 0b0000_0001  # bit 1023
    clks[1, 0] = 0b1100_0000  # bits 0-1, shared
    clks[1, 5] = 0b0000_1111  # 4 bits of its own
    # |a| = 5, |b| = 6, |a ∧ b| = 2 → 2·2 / 11
    assert popcounts(clks).tolist() == [5, 6]
    assert dice_of_pairs(clks, np.array([0]), np.array([1]))[0] == pytest.approx(4 / 11)
    assert dice_candidates(clks[:1], clks[1:], threshold=0.3).dice[0] == pytest.approx(4 / 11)


def test_numpy_dice_agrees_with_anonlink() -> None:
    data = synthetic_registries(records_per_source=150, sources=2, seed=7)
    exact = dice_candidates_within(data.clks, threshold=0.6)
    ours = dice_of_pairs(data.clks, exact.left, exact.right)
    assert len(exact.left) > 100
    np.testing.assert_allclose(ours, exact.dice, rtol=1e-12)


def test_pairs_within_groups_skips_oversized_buckets() -> None:
    left, right, skipped = pairs_within_groups(np.array([1, 1, 1, 2, 2, 9]), max_group=2)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(3, 4)]
    assert skipped == 3


def test_blocking_recall_on_noisy_synthetic_clks() -> None:
    data = synthetic_registries(records_per_source=3000, seed=11)
    n = len(data.clks)
    exact = dice_candidates_within(data.clks, threshold=0.7)
    true = data.person[exact.left] == data.person[exact.right]
    left, right, _ = lsh_candidate_pairs(data.clks, params=LshParams())
    found = np.isin(exact.left * n + exact.right, left * n + right)
    recall = found[true].mean()
    assert true.sum() > 3000
    assert recall >= 0.995, recall
    # and far fewer comparisons than all pairs
    assert len(left) < 0.05 * n * (n - 1) / 2


def test_em_recovers_m_and_u_from_a_simulated_mixture() -> None:
    rng = np.random.default_rng(5)
    n, prior = 60_000, 0.2
    is_match = rng.random(n) < prior
    true_m = {"a": [0.05, 0.15, 0.8], "b": [0.9, 0.1], "c": [0.7, 0.2, 0.1]}
    true_u = {"a": [0.6, 0.3, 0.1], "b": [0.3, 0.7], "c": [0.1, 0.3, 0.6]}
    levels = {}
    for name in true_m:
        k = len(true_m[name])
        lm = rng.choice(k, size=n, p=true_m[name])
        lu = rng.choice(k, size=n, p=true_u[name])
        levels[name] = np.where(is_match, lm, lu).astype(np.int8)
    # "dice" drives the start of EM; give it a weakly informative level set
    dice = np.where(levels["a"] == 2, 0.95, 0.75)
    levels["dice"] = levels.pop("a")
    model = estimate_model(levels, dice=dice)
    assert model.prior == pytest.approx(prior, abs=0.02)
    for name, ref in (("dice", "a"), ("b", "b"), ("c", "c")):
        k = len(true_m[ref])  # "dice" has more levels than the simulated comparison uses
        np.testing.assert_allclose(model.m[name][:k], true_m[ref], atol=0.03)
        np.testing.assert_allclose(model.u[name][:k], true_u[ref], atol=0.03)


def test_comparison_levels_for_attributes() -> None:
    attrs = PairAttributes(
        sources=np.array([0, 0, 1, 1]),
        sex=np.array(["F", "F", "M", ""], dtype=object),
        birth_year_min=np.array([1990, 1991, 1980, np.nan]),
        birth_year_max=np.array([1990, 1992, 1985, np.nan]),
        event_date=np.array(["2020-01-02", "2020-01-02", "", ""], dtype=object),
        doc_hash=np.array([[1] * 32, [1] * 32, [2] * 32, [0] * 32], dtype=np.uint8),
    )
    v = compare_pairs(
        left=np.array([0, 0, 0]),
        right=np.array([1, 2, 3]),
        dice=np.array([0.96, 0.71, 0.8]),
        attributes=attrs,
    )
    assert v["dice"].tolist() == [8, 0, 3]  # DICE_LEVELS edges 0.74, 0.77, 0.8, …, 0.95
    assert v["sex"].tolist() == [0, 1, -1]
    assert v["birth_year"].tolist() == [1, 2, -1]  # 1990 vs 1991-92: one year of slack
    assert v["doc_hash"].tolist() == [0, 2, -1]  # differ, Dice 0.71 < DOC_DIFFERENT_LOW_DICE
    assert v["same_source"].tolist() == [2, 0, 0]


def test_thresholds_come_from_the_posterior() -> None:
    p = np.r_[np.full(900, 0.999), np.linspace(0.05, 0.95, 100), np.full(5000, 0.001)]
    t = choose_thresholds(p, max_false_link_rate=0.01, max_missed_rate=0.01)
    assert 0.5 <= t.upper < 0.999
    assert t.lower < t.upper


def _inputs(data, **extra) -> LinkInputs:
    return LinkInputs(
        clks=data.clks,
        sources=data.sources,
        sex=data.sex,
        birth_year_min=data.birth_year_min,
        birth_year_max=data.birth_year_max,
        doc_hash=data.doc_hash,
        event_date=data.event_date,
        **extra,
    )


def test_job_links_synthetic_registries_with_good_precision() -> None:
    data = synthetic_registries(records_per_source=1500, seed=21)
    result = link(_inputs(data), LinkParams())
    same_pred = result.labels[result.auto_links.left] == result.labels[result.auto_links.right]
    assert same_pred.all()
    truth = data.person[result.auto_links.left] == data.person[result.auto_links.right]
    assert truth.mean() >= 0.97
    assert set(result.timings) >= {"candidates", "dice", "scoring", "clustering", "total"}
    assert result.params["thresholds"]["upper"] == result.thresholds.upper
    # Every pair sent to review says why (the reviewer's page shows it), none is linked yet.
    assert len(result.review) and set(result.review.reason) <= {
        "band", "cohesion", "cannot_link", "size_cap"}
    assert (result.labels[result.review.left] != result.labels[result.review.right]).all()
    assert set(result.auto_links.reason) == {""}
    assert result.model.to_dict()["weights_log2"]["doc_hash"][0] > 0  # equal documents: for


def test_incremental_job_keeps_labels_of_untouched_persons() -> None:
    data = synthetic_registries(records_per_source=600, seed=8)
    n = len(data.clks)
    old_n = 2 * n // 3
    first = link(_inputs(_slice(data, old_n)), LinkParams())
    existing = [f"P{lab}" for lab in first.labels.tolist()] + [None] * (n - old_n)
    second = link(_inputs(data, existing_labels=existing), LinkParams(model=first.model))
    old_labels = np.array(existing[:old_n], dtype=object)
    touched = {lab for ev in second.events for lab in ev.old}
    untouched = ~np.isin(old_labels, list(touched))
    assert (second.labels[:old_n][untouched] == old_labels[untouched]).all()
    assert second.counts["new_records"] == n - old_n
    # new records joined existing persons
    assert np.isin(second.labels[old_n:], old_labels).any()


def _slice(data, k: int):
    from dataclasses import replace

    return replace(
        data,
        **{
            f: getattr(data, f)[:k]
            for f in (
                "clks",
                "sources",
                "person",
                "sex",
                "birth_year_min",
                "birth_year_max",
                "doc_hash",
                "event_date",
            )
        },
    )


def test_exact_blocking_matches_lsh_on_small_input() -> None:
    data = synthetic_registries(records_per_source=300, seed=3)
    a = link(_inputs(data), LinkParams(blocking="exact"))
    b = link(_inputs(data), LinkParams())
    assert b.counts["pairs_above_floor"] >= 0.99 * a.counts["pairs_above_floor"]


def test_bad_params_are_refused_with_the_valid_range() -> None:
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        LinkParams(dice_floor=1.5)
    with pytest.raises(InputError, match="one entry per CLK"):
        link(LinkInputs(clks=np.zeros((2, 128), dtype=np.uint8), sources=np.zeros(3)), LinkParams())


def _budget_reference(left, right, dice, *, per_record: int) -> set[tuple[int, int]]:
    """Plain-Python budget: a pair stays if it ties or beats the K-th best Dice of an end."""
    by_record: dict[int, list[float]] = {}
    for a, b, d in zip(left.tolist(), right.tolist(), dice.tolist(), strict=True):
        by_record.setdefault(a, []).append(d)
        by_record.setdefault(b, []).append(d)
    kth = {r: sorted(v, reverse=True)[per_record - 1] if len(v) >= per_record else -1.0
           for r, v in by_record.items()}
    return {(a, b) for a, b, d in zip(left.tolist(), right.tolist(), dice.tolist(), strict=True)
            if d >= kth[a] or d >= kth[b]}


def test_budget_keeps_each_records_best_candidates() -> None:
    from linkage_service.linkage.blocking import budget_mask

    # Record 0 has five candidates; each partner j (1-5) also has three better pairs of its
    # own (with 10+j, 20+j, 30+j), so with K = 3 only record 0's three best survive on its
    # side; the partners' own better pairs all stay.
    left, right, dice = [0] * 5, [1, 2, 3, 4, 5], [0.93, 0.81, 0.88, 0.72, 0.76]
    for j in range(1, 6):
        for off in (10, 20, 30):
            left.append(j)
            right.append(off + j)
            dice.append(0.95)
    mask = budget_mask(np.array(left), np.array(right), np.array(dice), n=40, per_record=3)
    kept = {(a, b) for a, b, m in zip(left, right, mask.tolist(), strict=True) if m}
    assert {(0, 1), (0, 2), (0, 3)} <= kept and not {(0, 4), (0, 5)} & kept
    assert len(kept) == 3 + 15
    # A tie with the K-th best is kept (the result does not depend on pair order).
    tie = budget_mask(np.array([0, 0, 0]), np.array([1, 2, 3]), np.array([0.9, 0.8, 0.8]),
                      n=4, per_record=2)
    assert tie.tolist() == [True, True, True]
    # Random graphs: equal to the plain-Python rule.
    rng = np.random.default_rng(4)
    ll = rng.integers(0, 60, 3000)
    rr = rng.integers(0, 60, 3000)
    ok = ll < rr
    codes = np.unique(ll[ok] * 60 + rr[ok])
    ll, rr = codes // 60, codes % 60
    dd = rng.integers(70, 100, len(ll)) / 100
    got = budget_mask(ll, rr, dd, n=60, per_record=5)
    assert 0 < got.sum() < len(ll)
    assert {(a, b) for a, b, m in zip(ll.tolist(), rr.tolist(), got.tolist(), strict=True)
            if m} == _budget_reference(ll, rr, dd, per_record=5)


def test_streamed_budget_equals_the_budget_over_all_pairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VINCULO_KERNEL", "numpy")  # the NumPy path's streaming (kernel: below)
    data = synthetic_registries(records_per_source=500, seed=6)
    params = LshParams(pair_buffer=3000)  # many flushes and prunes
    fl, fr, _ = lsh_candidate_pairs(data.clks, params=params, min_dice=0.5)
    stats: dict[str, int] = {}
    bl, br, _ = lsh_candidate_pairs(data.clks, params=params, min_dice=0.5, budget=4,
                                    stats=stats)
    dice = dice_of_pairs(data.clks, fl, fr)
    want = _budget_reference(fl, fr, dice, per_record=4)
    assert set(zip(bl.tolist(), br.tolist(), strict=True)) == want
    assert len(want) < 0.7 * len(fl)  # the budget bites: many records had more than 4
    assert stats["held"] < len(fl)  # pruned while streaming, never all pairs at once


def test_budget_keeps_document_pairs_and_the_exact_path_agrees() -> None:
    from linkage_service.linkage.link import candidate_pairs

    data = synthetic_registries(records_per_source=300, seed=3)
    docs = np.zeros((len(data.clks), 16), dtype=np.uint8)
    rng = np.random.default_rng(2)
    rows = rng.permutation(len(data.clks))[:80].reshape(40, 2)
    far = [(int(a), int(b)) for a, b in rows]
    for k, (a, b) in enumerate(far):  # forty shared documents, Dice anything
        docs[a, :4] = docs[b, :4] = (k + 1, 7, 7, 7)
    inputs = LinkInputs(clks=data.clks, sources=data.sources, doc_hash=docs)
    tight = candidate_pairs(inputs, LinkParams(candidate_budget=1))
    got = set(zip(tight.left.tolist(), tight.right.tolist(), strict=True))
    assert {(min(a, b), max(a, b)) for a, b in far} <= got
    loose = candidate_pairs(inputs, LinkParams(candidate_budget=None))
    assert len(tight.left) < len(loose.left)
    lsh = candidate_pairs(inputs, LinkParams(candidate_budget=3))
    exact = candidate_pairs(inputs, LinkParams(candidate_budget=3, blocking="exact"))
    lsh_set = set(zip(lsh.left.tolist(), lsh.right.tolist(), strict=True))
    exact_set = set(zip(exact.left.tolist(), exact.right.tolist(), strict=True))
    assert len(lsh_set ^ exact_set) <= 0.01 * len(exact_set)
