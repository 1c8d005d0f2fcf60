"""The linkage core: pure functions over arrays (no database, no clock, no global randomness).

- ``similarity``: Dice of CLKs (the only module importing anonlink);
- ``blocking``: Hamming-LSH and exact-key candidate pairs;
- ``scoring``: comparison vectors, Fellegi–Sunter model estimated by EM, thresholds;
- ``clustering``: coherent best-first clustering with decisions, stable labels and lineage;
- ``contract``: ``LinkInputs``, ``LinkParams``, ``LinkResult`` (what a job reads and returns);
- ``candidates``: stages 1–2, candidate pairs within the per-record budget and their Dice;
- ``link``: ``link(LinkInputs, LinkParams) -> LinkResult``, the executor of the stages.

>>> from linkage_service.linkage import LinkInputs, LinkParams, link
>>> callable(link)
True
"""

from linkage_service.linkage.blocking import LshParams, lsh_candidate_pairs
from linkage_service.linkage.clustering import (
    Clustering,
    ClusterParams,
    Decisions,
    LineageEvent,
    ScoredPairs,
    cluster,
)
from linkage_service.linkage.link import LinkInputs, LinkParams, LinkResult, PairTable, link
from linkage_service.linkage.scoring import (
    COMPARISONS,
    FellegiSunterModel,
    PairAttributes,
    Thresholds,
    choose_thresholds,
    compare_pairs,
    estimate_model,
    match_probability,
    u_from_random_pairs,
)
from linkage_service.linkage.similarity import PairArrays, dice_of_pairs, popcounts

__all__ = [
    "COMPARISONS",
    "ClusterParams",
    "Clustering",
    "Decisions",
    "FellegiSunterModel",
    "LineageEvent",
    "LinkInputs",
    "LinkParams",
    "LinkResult",
    "LshParams",
    "PairArrays",
    "PairAttributes",
    "PairTable",
    "ScoredPairs",
    "Thresholds",
    "choose_thresholds",
    "cluster",
    "compare_pairs",
    "dice_of_pairs",
    "estimate_model",
    "link",
    "lsh_candidate_pairs",
    "match_probability",
    "popcounts",
    "u_from_random_pairs",
]
