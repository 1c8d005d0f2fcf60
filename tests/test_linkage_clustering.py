"""Clustering on hand-made graphs: chains, within-source pairs, decisions, lineage."""

from __future__ import annotations

import numpy as np
import pytest

from linkage_service.linkage.clustering import (
    ClusterParams,
    Decisions,
    LineageEvent,
    ScoredPairs,
    cluster,
)
from vinculo_common.errors import Conflict, InputError


def pairs(*edges: tuple[int, int, float]) -> ScoredPairs:
    arr = np.array(edges, dtype=float).reshape(-1, 3)
    return ScoredPairs(
        left=arr[:, 0].astype(np.int64), right=arr[:, 1].astype(np.int64), probability=arr[:, 2]
    )


def groups(labels: np.ndarray) -> set[frozenset[int]]:
    out: dict[str, set[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        out.setdefault(lab, set()).add(i)
    return {frozenset(g) for g in out.values()}


NEW4 = [None, None, None, None]


def test_chain_of_strong_links_does_not_become_one_person() -> None:
    # A–B, B–C, C–D each above the link threshold, nothing else scored.
    result = cluster(
        n=4, pairs=pairs((0, 1, 0.99), (2, 3, 0.98), (1, 2, 0.95)), existing_labels=NEW4
    )
    assert groups(result.labels) == {frozenset({0, 1}), frozenset({2, 3})}
    assert [(a, b, why) for a, b, why in result.refused] == [(1, 2, "cohesion")]


def test_chain_of_weak_links_never_links() -> None:
    result = cluster(
        n=4,
        pairs=pairs((0, 1, 0.6), (1, 2, 0.6), (2, 3, 0.6)),
        existing_labels=NEW4,
        params=ClusterParams(link_threshold=0.9),
    )
    assert len(groups(result.labels)) == 4


def test_coherent_clique_merges_into_one_person() -> None:
    edges = [(i, j, 0.97) for i in range(4) for j in range(i + 1, 4)]
    result = cluster(n=4, pairs=pairs(*edges), existing_labels=NEW4)
    assert groups(result.labels) == {frozenset({0, 1, 2, 3})}


def test_size_cap_refuses_and_warns() -> None:
    edges = [(i, j, 0.97) for i in range(4) for j in range(i + 1, 4)]
    result = cluster(
        n=4, pairs=pairs(*edges), existing_labels=NEW4, params=ClusterParams(max_cluster_size=2)
    )
    assert max(len(g) for g in groups(result.labels)) == 2
    assert result.warnings and "size cap" in result.warnings[0]


def test_within_source_records_may_share_a_person() -> None:
    # The clustering knows nothing of sources: two RETA records and one SISTRA record link.
    result = cluster(
        n=3, pairs=pairs((0, 1, 0.99), (0, 2, 0.99), (1, 2, 0.97)), existing_labels=[None] * 3
    )
    assert groups(result.labels) == {frozenset({0, 1, 2})}


def test_cannot_link_keeps_apart_despite_strong_links() -> None:
    result = cluster(
        n=3,
        pairs=pairs((0, 1, 0.999), (1, 2, 0.999), (0, 2, 0.999)),
        existing_labels=[None] * 3,
        decisions=Decisions(cannot_link=np.array([[0, 2]])),
    )
    labels = result.labels
    assert labels[0] != labels[2]
    assert any(why == "cannot_link" for *_, why in result.refused)


def test_must_link_joins_without_any_score() -> None:
    result = cluster(
        n=3,
        pairs=pairs(),
        existing_labels=[None] * 3,
        decisions=Decisions(must_link=np.array([[0, 2]])),
    )
    assert groups(result.labels) == {frozenset({0, 2}), frozenset({1})}


def test_contradictory_decisions_raise_conflict() -> None:
    with pytest.raises(Conflict):
        cluster(
            n=3,
            pairs=pairs(),
            existing_labels=[None] * 3,
            decisions=Decisions(
                must_link=np.array([[0, 1], [1, 2]]), cannot_link=np.array([[0, 2]])
            ),
        )


def test_incremental_keeps_untouched_labels_and_joins_new_record() -> None:
    # P1 = {0, 1}, P2 = {2}; record 3 is new and matches P2 only.
    result = cluster(n=4, pairs=pairs((2, 3, 0.99)), existing_labels=["P1", "P1", "P2", None])
    assert result.labels.tolist() == ["P1", "P1", "P2", "P2"]
    assert result.events == []


def test_incremental_merge_keeps_the_larger_label_with_lineage() -> None:
    # New record 3 bridges P1 = {0, 1} and P2 = {2}; all cross pairs scored high.
    edges = [(0, 3, 0.99), (1, 3, 0.99), (2, 3, 0.99), (0, 2, 0.95), (1, 2, 0.95)]
    result = cluster(n=5, pairs=pairs(*edges), existing_labels=["P1", "P1", "P2", None, "P9"])
    assert result.labels.tolist() == ["P1", "P1", "P1", "P1", "P9"]
    assert result.events == [LineageEvent(kind="merge", old=("P1", "P2"), new=("P1",))]


def test_cannot_link_splits_an_existing_person_with_lineage() -> None:
    # P1 held {0, 1, 2}; a reviewer says 0 and 2 are not the same person.
    result = cluster(
        n=3,
        pairs=pairs((0, 1, 0.99), (1, 2, 0.7), (0, 2, 0.6)),
        existing_labels=["P1", "P1", "P1"],
        decisions=Decisions(cannot_link=np.array([[2, 0]])),
    )
    assert result.labels.tolist() == ["P1", "P1", "new-0"]
    assert result.events == [LineageEvent(kind="split", old=("P1",), new=("P1", "new-0"))]


def test_existing_label_with_new_prefix_is_refused() -> None:
    with pytest.raises(InputError, match="must not start"):
        cluster(n=1, pairs=pairs(), existing_labels=["new-3"])


@pytest.mark.parametrize("seed", range(6))
def test_pairs_across_strong_components_change_nothing(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clustering holds only the sums of pairs inside one component of the strong pairs,
    must-links and existing persons; holding every pair (one component) gives the same
    persons, refusals and lineage, on dense random graphs with decisions and old persons."""
    from linkage_service.linkage import clustering as mod

    rng = np.random.default_rng(seed)
    n, m = 300, 2500
    left = rng.integers(0, n, m)
    right = rng.integers(0, n, m)
    keep = left < right
    codes = np.unique(left[keep] * n + right[keep])
    left, right = codes // n, codes % n
    # A few near-ties and many weak pairs: what reaches the cohesion sums.
    prob = np.round(rng.choice([0.02, 0.3, 0.6, 0.91, 0.95, 0.99], len(left)), 2)
    old = [None if rng.random() < 0.6 else f"P{rng.integers(0, 40)}" for _ in range(n)]
    must = rng.integers(0, n, (5, 2))
    must = must[must[:, 0] != must[:, 1]]
    cannot = rng.integers(0, n, (8, 2))
    cannot = cannot[cannot[:, 0] != cannot[:, 1]]
    scored = ScoredPairs(left=left, right=right, probability=prob,
                         apart=rng.random(len(left)) < 0.01)

    def run() -> tuple[list[str], list, list]:
        try:
            got = cluster(n=n, pairs=scored, existing_labels=old,
                          decisions=Decisions(must_link=must, cannot_link=cannot),
                          params=ClusterParams(link_threshold=0.9, min_cohesion=0.45))
        except Conflict:
            return ["conflict"], [], []
        return got.labels.tolist(), got.refused, got.events

    filtered = run()
    monkeypatch.setattr(mod, "components", lambda n, a, b: np.zeros(n, dtype=np.int64))
    assert run() == filtered
    assert filtered[0] != ["conflict"] or seed  # at least one seed runs through


def test_components_match_a_plain_union_find() -> None:
    from linkage_service.linkage.clustering import components

    rng = np.random.default_rng(1)
    n = 3000
    a, b = rng.integers(0, n, 2200), rng.integers(0, n, 2200)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    assert components(n, a, b).tolist() == [find(i) for i in range(n)]
    assert components(4, np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == [0, 1, 2, 3]
