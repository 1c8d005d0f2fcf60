"""Incremental linkage: only pairs touching new records are generated, the persons equal a full
run's, a small increment reuses the recorded model, and band keys are the sampled bits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from linkage_service.linkage.blocking import (
    LshParams,
    band_keys,
    lsh_candidate_pairs,
    pairs_within_groups,
)
from linkage_service.linkage.link import LinkInputs, LinkParams, link
from linkage_service.linkage.scoring import FellegiSunterModel
from vinculo_lab.synthetic_clks import synthetic_registries

_FIELDS = ("clks", "sources", "person", "sex", "birth_year_min", "birth_year_max", "doc_hash",
           "event_date")


def _inputs(data, **extra) -> LinkInputs:
    return LinkInputs(clks=data.clks, sources=data.sources, sex=data.sex,
                      birth_year_min=data.birth_year_min, birth_year_max=data.birth_year_max,
                      doc_hash=data.doc_hash, event_date=data.event_date, **extra)


def _slice(data, k: int):
    return replace(data, **{f: getattr(data, f)[:k] for f in _FIELDS})


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        groups.setdefault(str(lab), set()).add(i)
    return {frozenset(g) for g in groups.values()}


def test_band_keys_hold_the_sampled_bits() -> None:
    rng = np.random.default_rng(3)
    clks = rng.integers(0, 256, size=(500, 128), dtype=np.uint8)
    positions = np.stack([rng.choice(1024, size=21, replace=False) for _ in range(4)])
    bits = np.unpackbits(clks, axis=1)[:, positions.reshape(-1)].reshape(500, 4, 21)
    expected = (bits.astype(np.uint64) << np.arange(21, dtype=np.uint64)).sum(axis=2).T
    np.testing.assert_array_equal(band_keys(clks, positions), expected)


def test_grouped_pairs_touch_involved_rows_only_and_miss_none() -> None:
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 40, size=400).astype(np.uint64)
    involve = rng.random(400) < 0.2
    all_l, all_r, _ = pairs_within_groups(keys)
    want = {(a, b) for a, b in zip(all_l.tolist(), all_r.tolist(), strict=True)
            if involve[a] or involve[b]}
    left, right, _ = pairs_within_groups(keys, involve=involve)
    got = list(zip(left.tolist(), right.tolist(), strict=True))
    assert len(got) == len(set(got))  # each pair once
    assert set(got) == want


def test_incremental_candidates_are_the_full_candidates_touching_new_records() -> None:
    data = synthetic_registries(records_per_source=800, seed=5)
    n = len(data.clks)
    involve = np.zeros(n, dtype=bool)
    involve[-300:] = True  # the last 300 rows arrived this month
    params = LshParams(pair_buffer=5000)  # several flushes: dedupe across them is exercised
    full_stats: dict[str, int] = {}
    inc_stats: dict[str, int] = {}
    fl, fr, _ = lsh_candidate_pairs(data.clks, params=params, min_dice=0.7, stats=full_stats)
    il, ir, _ = lsh_candidate_pairs(
        data.clks, params=params, involve=involve, min_dice=0.7, stats=inc_stats
    )
    assert (involve[il] | involve[ir]).all()
    touching = involve[fl] | involve[fr]
    np.testing.assert_array_equal(il, fl[touching])
    np.testing.assert_array_equal(ir, fr[touching])
    assert len(il) > 100 and (~touching).sum() > len(il)
    # Work is proportional to the new records: existing × existing pairs are never generated.
    assert inc_stats["compared"] < 0.5 * full_stats["compared"]


def test_incremental_run_gives_the_persons_of_a_full_run() -> None:
    data = synthetic_registries(records_per_source=400, seed=12)
    n = len(data.clks)
    old_n = n - 150
    first = link(_inputs(_slice(data, old_n)), LinkParams())
    existing = [f"P{lab}" for lab in first.labels.tolist()] + [None] * (n - old_n)
    second = link(_inputs(data, existing_labels=existing), LinkParams(model=first.model))
    full = link(_inputs(data), LinkParams(model=first.model, thresholds=second.thresholds))
    same = _partition(second.labels) & _partition(full.labels)
    agree = sum(len(g) for g in same) / n
    assert agree >= 0.99, agree
    assert second.counts["new_records"] == n - old_n
    assert second.counts["candidate_pairs"] < full.counts["candidate_pairs"] / 2
    # Persons no new record joined keep their label and their records.
    joined = set(second.labels[old_n:].tolist())
    for lab in set(existing[:old_n]) - joined - {lab for e in second.events for lab in e.old}:
        rows = [i for i in range(old_n) if existing[i] == lab]
        assert (second.labels[rows] == lab).all()


def test_small_increment_reuses_the_recorded_model_and_a_large_one_does_not() -> None:
    data = synthetic_registries(records_per_source=300, seed=9)
    n = len(data.clks)
    first = link(_inputs(_slice(data, n - 60)), LinkParams())
    assert first.params["model_source"] == "em" and first.model.records == n - 60
    recorded = FellegiSunterModel.from_dict(first.model.to_dict())
    existing = [f"P{lab}" for lab in first.labels.tolist()] + [None] * 60
    small = link(_inputs(data, existing_labels=existing), LinkParams(previous_model=recorded))
    assert small.params["model_source"] == "previous_job"
    assert small.model.to_dict()["m"] == first.model.to_dict()["m"]
    # A third of the records new: the model is estimated again on this run's pairs.
    cut = 2 * n // 3
    early = link(_inputs(_slice(data, cut)), LinkParams())
    older = [f"P{lab}" for lab in early.labels.tolist()] + [None] * (n - cut)
    large = link(_inputs(data, existing_labels=older), LinkParams(previous_model=early.model))
    assert large.params["model_source"] == "em" and large.model.records == n


def test_incremental_budget_keeps_every_pair_the_full_run_keeps_for_new_records() -> None:
    data = synthetic_registries(records_per_source=600, seed=5)
    n = len(data.clks)
    involve = np.zeros(n, dtype=bool)
    involve[-250:] = True
    params = LshParams(pair_buffer=4000)
    fl, fr, _ = lsh_candidate_pairs(data.clks, params=params, min_dice=0.55, budget=3)
    il, ir, _ = lsh_candidate_pairs(
        data.clks, params=params, involve=involve, min_dice=0.55, budget=3
    )
    al, ar, _ = lsh_candidate_pairs(data.clks, params=params, involve=involve, min_dice=0.55)
    full = set(zip(fl.tolist(), fr.tolist(), strict=True))
    inc = set(zip(il.tolist(), ir.tolist(), strict=True))
    every = set(zip(al.tolist(), ar.tolist(), strict=True))
    touching = {(a, b) for a, b in full if involve[a] or involve[b]}
    # An existing record's budget counts only new partners here, so it keeps at least as much.
    assert touching <= inc <= every
    assert len(inc) < len(every)  # and the budget still bites




def test_incremental_density_levels_are_a_full_runs() -> None:
    """The density comparison reads a pair's later record, which an incremental job (new
    records listed last, as the bank does) has searched around completely: pairs touching the
    new records get the level a full run over the same records gives. A level read from an
    existing record would count only its new neighbours and call common names rare."""
    from linkage_service.linkage.candidates import candidate_pairs
    from linkage_service.linkage.comparisons import density_levels, neighbour_counts
    from linkage_service.linkage.link import neighbourhoods

    data = synthetic_registries(records_per_source=600, seed=5)
    n = len(data.clks)
    involve = np.zeros(n, dtype=bool)
    involve[-200:] = True
    params = LinkParams()
    inputs = _inputs(data)
    everyone = candidate_pairs(inputs, params)
    full_counts, none = neighbourhoods(everyone, involve=np.ones(n, dtype=bool))
    assert none is None
    new_only = candidate_pairs(inputs, params, involve=involve)
    counts, complete = neighbourhoods(new_only, involve=involve)
    assert complete is not None and (complete == involve).all()
    np.testing.assert_array_equal(counts[involve], full_counts[involve])

    touching = involve[everyone.left] | involve[everyone.right]
    lf, rt = everyone.left[touching], everyone.right[touching]
    want = density_levels(lf, rt, full_counts)
    got = density_levels(lf, rt, counts, complete)
    np.testing.assert_array_equal(got, want)
    assert len(set(want.tolist())) >= 2  # the check sees more than one level
    # what reading the existing record would have said: its new neighbours only
    old = ~involve[lf]
    partial = neighbour_counts(new_only.left, new_only.right, new_only.dice, n)
    assert (partial[lf[old]] < full_counts[lf[old]]).any()
