"""The vectorised helpers of the job against the per-record loops they replaced (issue 15)."""

from __future__ import annotations

import numpy as np

from linkage_service.linkage.clustering import LineageEvent, _assign_labels, _Clusters, _label_codes
from linkage_service.linkage.comparisons import _factorize
from linkage_service.linkage.contract import LinkInputs
from linkage_service.linkage.link import _completion_pairs


def _factorize_loop(values: np.ndarray) -> np.ndarray:
    seen: dict[object, int] = {}
    return np.fromiter(
        (-1 if v == "" else seen.setdefault(v, len(seen)) for v in values.tolist()),
        dtype=np.int64, count=len(values),
    )


def _completion_loop(left, right, old, inputs, limit):
    members: dict[str, list[int]] = {}
    for i, lab in enumerate(old):
        if lab is not None:
            members.setdefault(lab, []).append(i)
    out: set[tuple[int, int]] = set()
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        for new, other in ((a, b), (b, a)):
            if old[new] is None and old[other] is not None:
                out.update((min(new, r), max(new, r)) for r in members[old[other]][:limit]
                           if r != new)
    for a, b in np.asarray(inputs.cannot_link, dtype=np.int64).reshape(-1, 2).tolist():
        if old[a] is not None and old[a] == old[b]:
            rows = members[old[a]]
            if len(rows) ** 2 <= 4 * limit:
                out.update((x, y) for k, x in enumerate(rows) for y in rows[k + 1:])
    for decided in (inputs.must_link, inputs.cannot_link):
        for a, b in np.asarray(decided, dtype=np.int64).reshape(-1, 2).tolist():
            if a != b:
                out.add((min(a, b), max(a, b)))
    return out


def test_factorize_equals_the_dictionary_loop() -> None:
    rng = np.random.default_rng(1)
    pool = ["", "F", "M", "PE", "VE", "2020-01-01", "x"]
    cases = [np.array([], dtype=object), np.array([""] * 3, dtype=object),
             np.array(["a", "b", "a"]), np.array([0, 1, 0, 2])]
    cases += [np.array([pool[i] for i in rng.integers(0, len(pool), rng.integers(0, 40))],
                       dtype=object) for _ in range(200)]
    for values in cases:
        assert _factorize(values).tolist() == _factorize_loop(values).tolist()


def test_completion_pairs_equal_the_per_pair_loop() -> None:
    rng = np.random.default_rng(3)
    for t in range(300):
        n = int(rng.integers(2, 60))
        old = [None if rng.random() < 0.4 or t % 10 == 0 else f"P{rng.integers(0, 8)}"
               for _ in range(n)]
        a, b = rng.integers(0, n, 100), rng.integers(0, n, 100)
        keep = a != b
        left, right = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        inputs = LinkInputs(clks=np.zeros((n, 128), np.uint8), sources=np.zeros(n, int),
                            must_link=rng.integers(0, n, (int(rng.integers(0, 3)), 2)),
                            cannot_link=rng.integers(0, n, (int(rng.integers(0, 4)), 2)))
        limit = int(rng.integers(1, 6))
        got_l, got_r = _completion_pairs(left, right, old, inputs, limit)
        assert (got_l < got_r).all()
        assert set(zip(got_l.tolist(), got_r.tolist(), strict=True)) == _completion_loop(
            left, right, old, inputs, limit)


def test_roots_equal_find_of_every_record() -> None:
    rng = np.random.default_rng(5)
    cl = _Clusters(500)
    for a, b in rng.integers(0, 500, (300, 2)).tolist():
        ra, rb = cl.find(a), cl.find(b)
        if ra != rb:
            cl.union(ra, rb)
    roots = cl.roots()
    assert roots.tolist() == [cl.find(i) for i in range(500)]


# The per-record loop _assign_labels replaced (verbatim but for the name).
def _assign_labels_loop(
    roots: np.ndarray, old: list[str | None], first_row: dict[str, int], prefix: str
) -> tuple[np.ndarray, list[LineageEvent]]:
    overlap: dict[tuple[int, str], int] = {}
    parts: dict[str, set[int]] = {}
    for i, lab in enumerate(old):
        if lab is not None:
            r = int(roots[i])
            overlap[(r, lab)] = overlap.get((r, lab), 0) + 1
            parts.setdefault(lab, set()).add(r)
    ranked = sorted(overlap.items(), key=lambda kv: (-kv[1], first_row[kv[0][1]], kv[0][0]))
    label_of_root: dict[int, str] = {}
    used: set[str] = set()
    for (r, lab), _count in ranked:
        if r not in label_of_root and lab not in used:
            label_of_root[r] = lab
            used.add(lab)
    k = 0
    labels = np.empty(len(roots), dtype=object)
    for i, r in enumerate(roots.tolist()):
        if r not in label_of_root:
            label_of_root[r] = f"{prefix}{k}"
            k += 1
        labels[i] = label_of_root[r]
    events: list[LineageEvent] = []
    for lab in sorted(parts, key=lambda x: first_row[x]):
        if len(parts[lab]) > 1:
            new = sorted({label_of_root[r] for r in parts[lab]}, key=lambda x: (x != lab, x))
            events.append(LineageEvent(kind="split", old=(lab,), new=tuple(new)))
    olds_by_root: dict[int, set[str]] = {}
    for r, lab in overlap:
        olds_by_root.setdefault(r, set()).add(lab)
    for r, labs in olds_by_root.items():
        if len(labs) > 1:
            kept = label_of_root[r]
            ordered = sorted(labs, key=lambda x: (x != kept, first_row[x]))
            events.append(LineageEvent(kind="merge", old=tuple(ordered), new=(kept,)))
    return labels, events


def test_assign_labels_equals_the_per_record_loop() -> None:
    rng = np.random.default_rng(9)
    for t in range(500):
        n = int(rng.integers(1, 50))
        old = [None if rng.random() < 0.4 or t % 9 == 0 else f"P{rng.integers(0, 7)}"
               for _ in range(n)]
        roots = rng.integers(0, n, n)
        roots = np.where(rng.random(n) < 0.3, np.arange(n), roots)
        codes, names, first = _label_codes(old)
        first_row = dict(zip(names, first.tolist(), strict=True))
        want = _assign_labels_loop(roots, old, first_row, "new-")
        got = _assign_labels(roots, codes, names, first, "new-")
        assert got[0].tolist() == want[0].tolist()
        assert got[1] == want[1]


def test_add_probabilities_equals_adding_one_by_one() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        n = int(rng.integers(2, 40))
        merges = rng.integers(0, n, (int(rng.integers(0, n)), 2)).tolist()
        pairs = rng.integers(0, n, (int(rng.integers(0, 200)), 2))
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        prob = rng.random(len(pairs)) ** 3 * rng.choice([1.0, 1e-9, 1e6], len(pairs))
        one, many = _Clusters(n), _Clusters(n)
        for cl in (one, many):
            for a, b in merges:
                ra, rb = cl.find(a), cl.find(b)
                if ra != rb:
                    cl.union(ra, rb)
        for (a, b), p in zip(pairs.tolist(), prob.tolist(), strict=True):
            one.add_probability(a, b, p)
        many.add_probabilities(pairs[:, 0], pairs[:, 1], prob)
        assert many.sums.values == one.sums.values  # the same float sums, bit for bit
        assert {r: sorted(x) for r, x in many.sums.nbrs.items()} == {
            r: sorted(x) for r, x in one.sums.nbrs.items()}


class _DictSums:
    """The per-root dicts of sums _Clusters held before its flat dict (the reference)."""

    def __init__(self) -> None:
        self.adj: dict[int, dict[int, float]] = {}

    def add(self, ra: int, rb: int, p: float) -> None:
        row_a, row_b = self.adj.setdefault(ra, {}), self.adj.setdefault(rb, {})
        row_a[rb] = row_a.get(rb, 0.0) + p
        row_b[ra] = row_b.get(ra, 0.0) + p

    def union(self, a: int, b: int) -> None:  # b into a
        small_adj = self.adj.pop(b, {})
        big_adj = self.adj.setdefault(a, {})
        for x, p in small_adj.items():
            if x == a:
                continue
            other = self.adj[x]
            other[a] = other.get(a, 0.0) + other.pop(b)
            big_adj[x] = big_adj.get(x, 0.0) + p
        big_adj.pop(b, None)


def test_flat_sums_follow_unions_like_per_root_dicts() -> None:
    # Random probabilities, cannot-links and merges, interleaved: every sum between two roots
    # (and who neighbours whom) equals the per-root dicts', bit for bit, and two roots are
    # kept apart exactly when a cannot-link joins their records.
    rng = np.random.default_rng(23)
    for _ in range(60):
        n = int(rng.integers(2, 30))
        cl, ref = _Clusters(n), _DictSums()
        apart: list[tuple[int, int]] = []
        for _step in range(int(rng.integers(1, 120))):
            a, b = (int(x) for x in rng.integers(0, n, 2))
            ra, rb = cl.find(a), cl.find(b)
            if ra == rb:
                continue
            draw = rng.random()
            if draw < 0.6:
                p = float(rng.random() ** 3)
                cl.add_probability(a, b, p)
                ref.add(ra, rb, p)
            elif draw < 0.75:
                cl.add_cannot(a, b)
                apart.append((a, b))
            else:
                kept = cl.union(ra, rb)
                ref.union(kept, rb if kept == ra else ra)
            want = {(x, y): p for x, row in ref.adj.items() for y, p in row.items()}
            got = {(x, y): cl.sum_between(x, y) for x, ys in cl.sums.nbrs.items() for y in ys}
            assert got == want
            roots = sorted({cl.find(i) for i in range(n)})
            cut = {frozenset((cl.find(x), cl.find(y))) for x, y in apart}
            for i, x in enumerate(roots):
                for y in roots[i + 1 :]:
                    assert cl.cannot_between(x, y) == (frozenset((x, y)) in cut)
