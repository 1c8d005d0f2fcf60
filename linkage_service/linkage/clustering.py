"""Persons from scored pairs: best-first merging that stays coherent, respects decisions,
and keeps labels stable across incremental runs.

Rules, in order:

1. Start from the existing persons (``existing_labels``; None for a new record). A person
   holding a pair that a reviewer marked *cannot-link* is dissolved into single records and
   rebuilt below (that is how a split happens).
2. *Must-link* decisions join their records' clusters unconditionally; a must-link that would
   put a cannot-link pair in one person raises ``Conflict``. Pairs marked ``apart`` (evidence
   that rules them out) act as cannot-links from here on, unless already in one person.
3. Pairs at or above ``link_threshold`` are taken best first. Two clusters merge only when
   no cannot-link joins them, the merged size stays ≤ ``max_cluster_size``, and the mean match
   probability over *all* their cross pairs (pairs never scored count as 0) is at least
   ``min_cohesion``. So a chain A–B–C–D cannot become one person on its links alone: {A,B}
   and {C,D} share one scored pair out of four. Refused pairs are returned for review.
4. Labels: each final cluster takes the existing label it holds most records of (ties: the
   label whose first record has the lowest row index, i.e. the oldest if rows are ordered
   oldest first), each label at most once; other clusters get ``new_label_prefix`` + k.
   Lineage: a cluster with records of several old labels is a *merge* (old labels → kept
   label); an old label whose records end in several clusters is a *split*.

>>> import numpy as np
>>> pairs = ScoredPairs(left=np.array([0, 1]), right=np.array([1, 2]),
...                     probability=np.array([0.99, 0.98]))
>>> result = cluster(n=4, pairs=pairs, existing_labels=[None, None, None, None])
>>> result.labels.tolist()
['new-0', 'new-0', 'new-0', 'new-1']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from linkage_service.linkage.memory import pair_chunks
from vinculo_common.errors import Conflict, InputError

__all__ = [
    "ClusterParams",
    "Clustering",
    "Decisions",
    "LineageEvent",
    "ScoredPairs",
    "cluster",
    "components",
]


@dataclass(frozen=True)
class ScoredPairs:
    """Record pairs (row indices) and their match probability.

    ``apart`` (optional, bool per pair): pairs whose evidence rules them out (twins' given
    names under one family hash): merging never puts both ends in one person, as with a
    reviewer's cannot-link, but an existing person holding such a pair is left as it is.
    """

    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    apart: np.ndarray | None = None


@dataclass(frozen=True)
class Decisions:
    """Reviewers' decisions as (k, 2) arrays of row-index pairs."""

    must_link: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))
    cannot_link: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))


@dataclass(frozen=True)
class ClusterParams:
    """Merging rules; see the module docstring."""

    link_threshold: float = 0.9
    min_cohesion: float = 0.45
    max_cluster_size: int = 50
    min_probability_kept: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 < self.link_threshold <= 1.0:
            raise InputError(f"link_threshold must be in (0, 1] (got {self.link_threshold})")
        if not 0.0 <= self.min_cohesion <= 1.0:
            raise InputError(f"min_cohesion must be in [0, 1] (got {self.min_cohesion})")
        if self.max_cluster_size < 2:
            raise InputError(f"max_cluster_size must be ≥ 2 (got {self.max_cluster_size})")


@dataclass(frozen=True)
class LineageEvent:
    """``merge``: old labels → [kept label]; ``split``: [old label] → labels of its parts."""

    kind: str
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass
class Clustering:
    """Label per record, lineage, and the links refused (left, right, reason)."""

    labels: np.ndarray  # object array of str
    events: list[LineageEvent]
    refused: list[tuple[int, int, str]]
    warnings: list[str]


class _RootPairs:
    """Values on pairs of roots: one dict keyed by the pair (``lo · n + hi``) and each root's
    neighbours as a list. A dict or set per root cost about 200 bytes more for each of the
    hundreds of thousands of roots of a national job. ``additive``: a merged pair's value is
    the sum of its two parts' (cohesion sums); otherwise only presence counts (cannot-links,
    stored as True)."""

    def __init__(self, n: int, *, additive: bool) -> None:
        self.n = n
        self.additive = additive
        self.values: dict[int, float | bool] = {}
        self.nbrs: dict[int, list[int]] = {}

    def key(self, a: int, b: int) -> int:
        return a * self.n + b if a < b else b * self.n + a

    def add(self, a: int, b: int, value: float | bool = True) -> None:
        self._add_at(self.key(a, b), a, b, value)

    def add_codes(self, codes: np.ndarray, values: np.ndarray | None = None) -> None:
        """``add`` of pairs given as codes ``lo · n + hi`` (with ``values``, else True), read
        as Python ints 65,536 at a time."""
        for part in pair_chunks(len(codes), chunk=1 << 16):
            block = codes[part]
            vals = [True] * len(block) if values is None else values[part].tolist()
            for at, a, b, value in zip(block.tolist(), (block // self.n).tolist(),
                                       (block % self.n).tolist(), vals, strict=True):
                self._add_at(at, a, b, value)

    def _add_at(self, at: int, a: int, b: int, value: float | bool) -> None:
        if at not in self.values:
            self.nbrs.setdefault(a, []).append(b)
            self.nbrs.setdefault(b, []).append(a)
            self.values[at] = 0.0 + value if self.additive else True
        elif self.additive:
            self.values[at] = self.values[at] + value

    def merge(self, a: int, b: int) -> None:
        """Root b joins root a: each neighbour x of b gets a's value plus b's (one addition per
        neighbour, so the order in which they are visited does not change a sum)."""
        values, nbrs, key = self.values, self.nbrs, self.key
        small = nbrs.pop(b, [])
        if not small:
            return
        big = nbrs.setdefault(a, [])
        for x in small:
            if x == a:
                continue
            value = values.pop(key(b, x))
            at = key(a, x)
            others = nbrs[x]
            if at in values:
                others.remove(b)
                if self.additive:
                    values[at] = values[at] + value
            else:
                others[others.index(b)] = a
                big.append(x)
                values[at] = 0.0 + value if self.additive else True
        if values.pop(key(a, b), None) is not None:
            big.remove(b)
        if not big:
            del nbrs[a]


class _Clusters:
    """Disjoint sets with, per root, size, Σ probability to neighbouring roots (``sums``) and
    cannot-links (``cannot``), both kept on pairs of roots (``_RootPairs``)."""

    def __init__(self, n: int) -> None:
        # Python lists, not NumPy arrays: the loops below index one element at a time, and a
        # NumPy scalar read costs several times a list's.
        self.n = n
        self.parent: list[int] = list(range(n))
        self.size: list[int] = [1] * n
        self.sums = _RootPairs(n, additive=True)
        self.cannot = _RootPairs(n, additive=False)

    def sum_between(self, a: int, b: int) -> float:
        """Σ probability of the held pairs between roots a and b (0.0 when none)."""
        return float(self.sums.values.get(self.sums.key(a, b), 0.0))

    def cannot_between(self, a: int, b: int) -> bool:
        return self.cannot.key(a, b) in self.cannot.values

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def roots(self) -> np.ndarray:
        """Every record's root (the same as ``find`` of each, without compressing paths)."""
        roots = np.asarray(self.parent, dtype=np.int64)
        while True:
            up = roots[roots]
            if np.array_equal(up, roots):
                return roots
            roots = up

    def union(self, a: int, b: int) -> int:
        """Merge roots a and b; the larger stays root. Returns the new root."""
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        self.sums.merge(a, b)
        self.cannot.merge(a, b)
        return a

    def add_probability(self, a: int, b: int, p: float) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.sums.add(ra, rb, p)

    def add_probabilities(self, left: np.ndarray, right: np.ndarray, prob: np.ndarray,
                          keep: np.ndarray | None = None) -> None:
        """``add_probability`` of every pair (of the pairs ``keep`` marks), before any merge is
        judged, at once: each cluster pair's probabilities are added in pair order from 0.0
        (a bincount), the same float sums as adding them one by one (the roots do not change
        meanwhile: no union happens). The pairs are read a chunk at a time."""
        rows = np.arange(len(left)) if keep is None else np.flatnonzero(keep)
        if len(rows) == 0:
            return
        if self.sums.values:  # sums already started: add one by one, as the order matters
            for a, b, p in zip(np.asarray(left)[rows].tolist(), np.asarray(right)[rows].tolist(),
                               np.asarray(prob, dtype=float)[rows].tolist(), strict=True):
                self.add_probability(a, b, p)
            return
        n = len(self.parent)
        roots = self.roots()
        code_parts, prob_parts = [], []
        for part in pair_chunks(len(rows)):
            at = rows[part]
            ra, rb = roots[left[at]], roots[right[at]]
            apart_roots = ra != rb
            code_parts.append((np.minimum(ra, rb) * n + np.maximum(ra, rb))[apart_roots])
            prob_parts.append(np.asarray(prob, dtype=float)[at][apart_roots])
        del rows, roots
        codes = np.concatenate(code_parts)
        weights = np.concatenate(prob_parts)
        del code_parts, prob_parts
        uniq, inverse = np.unique(codes, return_inverse=True)
        del codes
        totals = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(uniq))
        del inverse, weights
        self.sums.add_codes(uniq, totals)  # each pair once into empty sums: 0.0 + total

    def add_cannot(self, a: int, b: int) -> None:
        self.cannot.add(self.find(a), self.find(b))


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each record's connected component (its smallest row) in the graph of edges a–b.

    >>> components(5, np.array([3, 1]), np.array([4, 3])).tolist()
    [0, 1, 2, 1, 1]
    """
    root = np.arange(n)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while True:  # hook each edge's larger root under its smaller one, then jump to the roots
        ra, rb = root[a], root[b]
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        apart = lo != hi
        if not apart.any():
            return root
        np.minimum.at(root, hi[apart], lo[apart])
        while True:
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up
        a, b = a[apart], b[apart]


def _pair_array(values: np.ndarray, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64).reshape(-1, 2)
    if len(arr) and (arr.min() < 0 or arr.max() >= n):
        raise InputError(f"{what} pairs must hold row indices in [0, {n})")
    return arr


def cluster(
    *,
    n: int,
    pairs: ScoredPairs,
    existing_labels: Sequence[str | None] | np.ndarray,
    decisions: Decisions | None = None,
    params: ClusterParams | None = None,
    new_label_prefix: str = "new-",
) -> Clustering:
    """Assign every record to a person; see the module docstring for the rules.

    >>> import numpy as np
    >>> pairs = ScoredPairs(left=np.array([0]), right=np.array([1]), probability=np.array([0.99]))
    >>> cluster(n=2, pairs=pairs, existing_labels=["P1", None]).labels.tolist()
    ['P1', 'P1']
    """
    params = params or ClusterParams()
    decisions = decisions or Decisions()
    if len(existing_labels) != n:
        raise InputError(f"existing_labels must have one entry per record ({n})")
    old = [lab if lab else None for lab in existing_labels]
    if any(lab is not None and lab.startswith(new_label_prefix) for lab in old):
        raise InputError(f"existing labels must not start with {new_label_prefix!r}")
    must = _pair_array(decisions.must_link, n, "must_link")
    cannot = _pair_array(decisions.cannot_link, n, "cannot_link")
    left = np.asarray(pairs.left, dtype=np.int64)
    right = np.asarray(pairs.right, dtype=np.int64)
    prob = np.asarray(pairs.probability, dtype=float)
    warnings: list[str] = []

    # 1. existing persons, except those a cannot-link now splits. Each person's records hang
    # from its first record (what uniting them one by one gives: the first record's set is
    # never the smaller), set at once instead of one union per record.
    codes, names, first = _label_codes(old)
    dissolved = np.zeros(len(names), dtype=bool)
    for a, b in cannot.tolist():
        if codes[a] >= 0 and codes[a] == codes[b]:
            dissolved[codes[a]] = True
    cl = _Clusters(n)
    if len(names):
        parent = np.arange(n)
        held = np.flatnonzero(codes >= 0)
        held = held[~dissolved[codes[held]]]
        parent[held] = first[codes[held]]
        cl.parent = parent.tolist()
        cl.size = np.maximum(np.bincount(parent, minlength=n), 1).tolist()
    # 2. must-links, then cannot-links checked.
    for a, b in must.tolist():
        ra, rb = cl.find(a), cl.find(b)
        if ra != rb:
            cl.union(ra, rb)
    for a, b in cannot.tolist():
        if cl.find(a) == cl.find(b):
            raise Conflict(
                "decisiones contradictorias: un par 'no enlazar' quedaría en la misma persona "
                "por decisiones 'enlazar' (conflicting must-link and cannot-link decisions)"
            )
        cl.add_cannot(a, b)
    if pairs.apart is not None:
        # Each pair of clusters an apart pair separates, once (the roots do not change until
        # merging starts; a cannot-link is a set entry, so adding it twice changes nothing).
        apart = np.flatnonzero(np.asarray(pairs.apart, dtype=bool))
        roots = cl.roots()
        end_l, end_r = roots[left[apart]], roots[right[apart]]
        split = end_l != end_r
        cut = np.unique(np.minimum(end_l, end_r)[split] * n + np.maximum(end_l, end_r)[split])
        del apart, roots, end_l, end_r, split
        cl.cannot.add_codes(cut)  # pairs of roots already
        del cut
    # Only clusters that a strong pair joins are ever judged, and clusters never leave the
    # components of the strong pairs, must-links and existing persons: a pair across two such
    # components adds to no sum that is read, so it is not held (most candidate pairs at
    # national scale; the sums that are read come out the same).
    labelled = np.flatnonzero(codes >= 0)
    strong_any = np.flatnonzero(prob >= params.link_threshold)
    component = components(
        n,
        np.concatenate([left[strong_any], must[:, 0], labelled]),
        np.concatenate([right[strong_any], must[:, 1], first[codes[labelled]]]),
    )
    inside = prob >= params.min_probability_kept
    for part in pair_chunks(len(left)):  # a chunk at a time: no pair-long temporaries
        inside[part] &= component[left[part]] == component[right[part]]
    cl.add_probabilities(left, right, prob, keep=inside)
    del inside
    # 3. best-first coherent merging.
    refused: list[tuple[int, int, str]] = []
    strong = np.flatnonzero(prob >= params.link_threshold)
    strong = strong[np.argsort(-prob[strong], kind="stable")]
    for part in pair_chunks(len(strong), chunk=1 << 16):  # Python ints a block at a time
        block = strong[part]
        for a, b in zip(left[block].tolist(), right[block].tolist(), strict=True):
            ra, rb = cl.find(a), cl.find(b)
            if ra == rb:
                continue
            if cl.cannot_between(ra, rb):
                refused.append((a, b, "cannot_link"))
                continue
            size_a, size_b = cl.size[ra], cl.size[rb]
            if size_a + size_b > params.max_cluster_size:
                refused.append((a, b, "size_cap"))
                continue
            cohesion = cl.sum_between(ra, rb) / (size_a * size_b)
            if cohesion < params.min_cohesion:
                refused.append((a, b, "cohesion"))
                continue
            cl.union(ra, rb)
    del strong
    caps = sum(1 for *_, why in refused if why == "size_cap")
    if caps:
        warnings.append(
            f"{caps} enlaces rechazados por el tamaño máximo de persona "
            f"({params.max_cluster_size}) (links refused by the cluster size cap)"
        )
    roots = cl.roots()
    del cl  # sums, cannot-links, parents: freed before the labels are built
    refused = [r for r in refused if roots[r[0]] != roots[r[1]]]
    labels, events = _assign_labels(roots, codes, names, first, new_label_prefix)
    return Clustering(labels=labels, events=events, refused=refused, warnings=warnings)


def _label_codes(old: list[str | None]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each record's existing label as a code (−1: none), the labels by code (in order of
    first appearance) and each label's first row."""
    values = np.array(["" if lab is None else lab for lab in old], dtype=object)
    codes, uniques = pd.factorize(values)
    names: list[str] = uniques.tolist()
    codes = codes.astype(np.int64, copy=False)
    if "" in names:  # no label: drop its code, renumber the ones after it
        e = names.index("")
        codes = np.where(codes == e, -1, np.where(codes > e, codes - 1, codes))
        names.pop(e)
    held = np.flatnonzero(codes >= 0)
    first = np.full(len(names), -1, dtype=np.int64)
    first[codes[held][::-1]] = held[::-1]  # the last write wins: the earliest row
    return codes, names, first


def _assign_labels(
    roots: np.ndarray, codes: np.ndarray, names: list[str], first: np.ndarray, prefix: str
) -> tuple[np.ndarray, list[LineageEvent]]:
    """Each final cluster takes the existing label it holds most records of (ties: the label
    whose first record is oldest, then the smaller root); each label once; the others
    ``prefix``k in order of their first record. Splits and merges as lineage events."""
    n = len(roots)
    held = np.flatnonzero(codes >= 0)
    base = max(len(names), 1)
    # overlap: records of each (cluster, old label), in order of their first record
    key = roots[held] * base + codes[held]
    uniq, at, count = np.unique(key, return_index=True, return_counts=True)
    pair_root, pair_code = uniq // base, uniq % base
    ranked = np.lexsort((pair_root, first[pair_code], -count))
    label_of_root: dict[int, str] = {}
    used: set[int] = set()
    for r, c in zip(pair_root[ranked].tolist(), pair_code[ranked].tolist(), strict=True):
        if r not in label_of_root and c not in used:
            label_of_root[r] = names[c]
            used.add(c)
    root_ids, root_first = np.unique(roots, return_index=True)
    k = 0
    for r in root_ids[np.argsort(root_first, kind="stable")].tolist():
        if r not in label_of_root:
            label_of_root[r] = f"{prefix}{k}"
            k += 1
    label_at = np.empty(n, dtype=object)
    label_at[np.fromiter(label_of_root, dtype=np.int64, count=len(label_of_root))] = list(
        label_of_root.values())
    labels = label_at[roots]
    events: list[LineageEvent] = []
    parts: dict[int, list[int]] = {}
    for c, r in zip(pair_code.tolist(), pair_root.tolist(), strict=True):
        parts.setdefault(c, []).append(r)
    for c in sorted(parts, key=lambda x: first[x]):
        if len(parts[c]) > 1:
            lab = names[c]
            new = sorted({label_of_root[r] for r in parts[c]}, key=lambda x: (x != lab, x))
            events.append(LineageEvent(kind="split", old=(lab,), new=tuple(new)))
    # merges in order of each cluster's first labelled record (as the loop over records did)
    olds_by_root: dict[int, list[int]] = {}
    for r, c in zip(pair_root[np.argsort(at, kind="stable")].tolist(),
                    pair_code[np.argsort(at, kind="stable")].tolist(), strict=True):
        olds_by_root.setdefault(r, []).append(c)
    for r, cs in olds_by_root.items():
        if len(cs) > 1:
            kept = label_of_root[r]
            ordered = [names[c] for c in sorted(cs, key=lambda c: (names[c] != kept, first[c]))]
            events.append(LineageEvent(kind="merge", old=tuple(ordered), new=(kept,)))
    return labels, events
