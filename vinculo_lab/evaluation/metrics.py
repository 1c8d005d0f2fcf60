"""Pairwise linkage quality: precision, recall and F1 over record pairs, and recall by the kind
of difference between truly matching records. Pure functions: no I/O, no service.

A clustering is a mapping ``record_key -> label`` with ``record_key = (source, record_id)``;
two records are a *predicted pair* when they share a predicted label and a *true pair* when
they share a person. Counting uses cluster-size contingency tables (sum of n choose 2 per
cell), never a loop over pairs, so 100k records score in well under a second.

Conventions: a record of ``truth`` missing from ``predicted`` is its own singleton; a record
of ``predicted`` missing from ``truth`` is ignored (and counted in ``Scores.n_unknown``).
Precision with no predicted pair is 1.0 (no false link was made); recall with no true pair
is 1.0 (nothing was missed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass

from vinculo_lab.evaluation.differences import KINDS, difference_kinds, parse_partial_date

__all__ = [
    "KINDS",
    "KindRecall",
    "PairCounts",
    "RecordKey",
    "Scores",
    "difference_kinds",
    "pairwise_scores",
    "parse_partial_date",
    "recall_by_kind",
]

RecordKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PairCounts:
    """Pair counts of one comparison (all pairs, or cross-source pairs only)."""

    true_pairs: int
    predicted_pairs: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"true_pairs": self.true_pairs, "predicted_pairs": self.predicted_pairs,
                "true_positives": self.true_positives, "precision": self.precision,
                "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True, slots=True)
class Scores:
    """Pairwise scores over all record pairs and over cross-source pairs only."""

    all_pairs: PairCounts
    cross_source: PairCounts
    n_records: int  # records of truth that were scored
    n_unpredicted: int  # of those, absent from predicted (scored as singletons)
    n_unknown: int  # records of predicted absent from truth (ignored)

    @property
    def precision(self) -> float:
        return self.all_pairs.precision

    @property
    def recall(self) -> float:
        return self.all_pairs.recall

    @property
    def f1(self) -> float:
        return self.all_pairs.f1

    def as_dict(self) -> dict[str, object]:
        return {"all_pairs": self.all_pairs.as_dict(), "cross_source": self.cross_source.as_dict(),
                "n_records": self.n_records, "n_unpredicted": self.n_unpredicted,
                "n_unknown": self.n_unknown}


def _pairs(counter: Counter[Hashable]) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def pairwise_scores(truth: Mapping[RecordKey, Hashable], predicted: Mapping[RecordKey, Hashable],
                    *, sources: Collection[str] | None = None) -> Scores:
    """Precision, recall and F1 of ``predicted`` against ``truth`` over record pairs.

    ``sources`` restricts scoring to records of those sources (default: all).

    >>> truth = {("r", "a"): 1, ("r", "b"): 1, ("s", "c"): 1, ("s", "d"): 2}
    >>> pred = {("r", "a"): "x", ("r", "b"): "x", ("s", "c"): "y", ("s", "d"): "y"}
    >>> s = pairwise_scores(truth, pred)
    >>> (s.precision, round(s.recall, 4))
    (0.5, 0.3333)
    """
    wanted = None if sources is None else set(sources)
    t_size: Counter[Hashable] = Counter()
    t_src: Counter[Hashable] = Counter()
    p_size: Counter[Hashable] = Counter()
    p_src: Counter[Hashable] = Counter()
    cell: Counter[Hashable] = Counter()
    cell_src: Counter[Hashable] = Counter()
    n_records = n_unpredicted = 0
    for key, person in truth.items():
        source = key[0]
        if wanted is not None and source not in wanted:
            continue
        n_records += 1
        if key in predicted:
            label: Hashable = (0, predicted[key])
        else:
            label = (1, key)  # a singleton of its own, never equal to a real label
            n_unpredicted += 1
        t_size[person] += 1
        t_src[(person, source)] += 1
        p_size[label] += 1
        p_src[(label, source)] += 1
        cell[(person, label)] += 1
        cell_src[(person, label, source)] += 1
    scored = n_records
    n_unknown = sum(1 for key in predicted if key not in truth and (
        wanted is None or key[0] in wanted))
    true_all, pred_all, tp_all = _pairs(t_size), _pairs(p_size), _pairs(cell)
    all_pairs = PairCounts(true_all, pred_all, tp_all)
    cross = PairCounts(true_all - _pairs(t_src), pred_all - _pairs(p_src),
                       tp_all - _pairs(cell_src))
    return Scores(all_pairs=all_pairs, cross_source=cross, n_records=scored,
                  n_unpredicted=n_unpredicted, n_unknown=n_unknown)


@dataclass(frozen=True, slots=True)
class KindRecall:
    """How many true pairs show a kind of difference, and how many of them were linked."""

    pairs: int
    found: int

    @property
    def recall(self) -> float:
        return self.found / self.pairs if self.pairs else 1.0


def recall_by_kind(truth: Mapping[RecordKey, Hashable], predicted: Mapping[RecordKey, Hashable],
                   records: Mapping[RecordKey, Mapping[str, str]], *,
                   sources: Collection[str] | None = None,
                   cross_source_only: bool = False) -> dict[str, KindRecall]:
    """Recall per kind of difference (see ``difference_kinds``) over the true pairs.

    ``records`` holds each record's canonical row (plaintext, read by the evaluator at the
    institutions' side). A pair counts once under each kind it shows, and always under
    ``"all"``. Sorted by number of pairs, largest first.

    >>> truth = {("r", "1"): "p", ("s", "1"): "p"}
    >>> rows = {("r", "1"): {"nombres": "ANA", "apellido_paterno": "ROJAS"},
    ...         ("s", "1"): {"nombres": "ANA", "apellido_paterno": "ROJAZ"}}
    >>> recall_by_kind(truth, {}, rows)["spelling_variant"]
    KindRecall(pairs=1, found=0)
    """
    wanted = None if sources is None else set(sources)
    clusters: dict[Hashable, list[RecordKey]] = {}
    for key, person in truth.items():
        if wanted is None or key[0] in wanted:
            clusters.setdefault(person, []).append(key)
    pairs: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for members in clusters.values():
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if cross_source_only and a[0] == b[0]:
                    continue
                linked = a in predicted and b in predicted and predicted[a] == predicted[b]
                kinds = difference_kinds(records.get(a, {}), records.get(b, {}))
                for kind in (*kinds, "all"):
                    pairs[kind] += 1
                    found[kind] += linked
    return {kind: KindRecall(pairs[kind], found[kind])
            for kind, _ in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))}
