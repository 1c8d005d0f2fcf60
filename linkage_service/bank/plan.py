"""Deciding which person each new cluster is: stable pseudonyms, merges, splits (pure).

Given, for every current record, the person it belonged to before the job (``-1``: none, a new
or re-linked record) and the cluster the job put it in, :func:`plan_persons` decides:

- a cluster that wholly contains one or more old persons keeps one of them (the one with most
  records in it, then the oldest): an *untouched* person keeps its pseudonym even when new
  records join it; the others are *merged* into it (lineage old → survivor);
- a cluster that contains no whole old person gets a *new* person; an old person whose records
  went to several clusters is *split* (lineage old → each new pseudonym), even if one part is
  alone, so a pseudonym never silently changes meaning;
- an old person with no current record left (all withdrawn) is *retired*.

>>> import numpy as np
>>> p = plan_persons(old_person=np.array([7, 7, 9, -1]), new_label=np.array([0, 0, 0, 1]),
...                  live_persons=[7, 9])
>>> p.cluster_person, p.merged
({0: 7, 1: None}, {9: 0})
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from vinculo_common.errors import InputError

__all__ = ["PersonPlan", "plan_persons"]


@dataclass(frozen=True)
class PersonPlan:
    """What the writer must do. Cluster labels are the job's; person ids the bank's."""

    cluster_person: dict[int, int | None]  # cluster → old person it keeps, or None: create one
    merged: dict[int, int] = field(default_factory=dict)  # old person → cluster it joined
    split: dict[int, list[int]] = field(default_factory=dict)  # old person → its clusters
    retired: list[int] = field(default_factory=list)  # old persons with no current record


def plan_persons(
    *, old_person: np.ndarray, new_label: np.ndarray, live_persons: Iterable[int]
) -> PersonPlan:
    """Plan persons for a clustering; see the module docstring for the rules."""
    old = np.asarray(old_person, dtype=np.int64)
    new = np.asarray(new_label, dtype=np.int64)
    if old.shape != new.shape or old.ndim != 1:
        raise InputError("old_person y new_label deben ser vectores del mismo largo")
    if len(new) and new.min() < 0:
        raise InputError("new_label debe asignar un grupo (≥ 0) a cada registro")

    clusters_of: dict[int, set[int]] = defaultdict(set)  # old person → clusters
    in_cluster: dict[int, Counter[int]] = defaultdict(Counter)  # cluster → old person → n
    for p, c in zip(old.tolist(), new.tolist(), strict=True):
        in_cluster[c][p] += 0  # make sure every cluster appears
        if p >= 0:
            clusters_of[p].add(c)
            in_cluster[c][p] += 1

    cluster_person: dict[int, int | None] = {}
    merged: dict[int, int] = {}
    split: dict[int, list[int]] = {}
    for c in sorted(in_cluster):
        whole = [p for p, n in in_cluster[c].items() if p >= 0 and n and clusters_of[p] == {c}]
        if not whole:
            cluster_person[c] = None
            continue
        survivor = min(whole, key=lambda p: (-in_cluster[c][p], p))
        cluster_person[c] = survivor
        for p in whole:
            if p != survivor:
                merged[p] = c
    for p, cs in clusters_of.items():
        if len(cs) > 1:
            split[p] = sorted(cs)
    retired = sorted(set(live_persons) - set(clusters_of))
    return PersonPlan(cluster_person=cluster_person, merged=merged, split=split, retired=retired)
