"""Evaluation of linkage quality against a known truth (synthetic or held-out registries).

``metrics`` holds the pure scoring functions; the ``vinculo evaluate`` command (which runs the
real encode → upload → link path) builds on them.
"""

from __future__ import annotations

from vinculo_lab.evaluation.metrics import (
    KINDS,
    KindRecall,
    PairCounts,
    Scores,
    difference_kinds,
    pairwise_scores,
    recall_by_kind,
)

__all__ = [
    "KINDS",
    "KindRecall",
    "PairCounts",
    "Scores",
    "difference_kinds",
    "pairwise_scores",
    "recall_by_kind",
]
