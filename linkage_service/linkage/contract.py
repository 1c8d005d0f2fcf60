"""What a linkage job reads, how it is tuned and what it returns (``job.link``'s contract).

``LinkInputs`` (arrays, one row per record), ``LinkParams`` (every knob, validated),
``LinkResult`` with its ``PairTable``s, and the Dice calibration of hardened schemas
(``to_reference`` / ``to_stored``). No logic of the stages lives here.

>>> import numpy as np
>>> params = LinkParams(dice_calibration=((0, 0), (0.6, 0.7), (1, 1)))
>>> params.dice_floor, round(to_stored(params, params.dice_floor), 3)
(0.7, 0.6)
>>> float(to_reference(params, np.array([0.6]))[0])
0.7
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linkage_service.linkage.blocking import LshParams
from linkage_service.linkage.clustering import ClusterParams, LineageEvent
from linkage_service.linkage.comparisons import PairAttributes
from linkage_service.linkage.scoring import FellegiSunterModel, Thresholds
from vinculo_common.errors import InputError
from vinculo_common.schemas import calibration_knots_valid

__all__ = ["LinkInputs", "LinkParams", "LinkResult", "PairTable", "to_reference", "to_stored"]


@dataclass(frozen=True, kw_only=True)
class LinkInputs(PairAttributes):
    """Everything a job reads. Row index = record key; rows ordered oldest first.

    The content attributes and keyed sections are ``comparisons.PairAttributes``' fields (one
    list for both). ``existing_labels``: the person label of each record already in the bank,
    None for a new record (None for the whole argument: every record is new). ``must_link`` /
    ``cannot_link``: reviewers' decisions as (k, 2) row-index pairs.
    """

    clks: np.ndarray
    existing_labels: Sequence[str | None] | np.ndarray | None = None
    must_link: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))
    cannot_link: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))


@dataclass(frozen=True)
class LinkParams:
    """Parameters of a job; ``to_dict`` of the result records them.

    ``blocking``: "lsh" (default) or "exact" (anonlink all-pairs; small inputs and checks).
    ``thresholds`` None: chosen from the data (``scoring.choose_thresholds``) with the two
    rates. ``model`` None: estimated by EM; pass a recorded model to reuse its weights.
    ``previous_model``: the model the last job recorded; an incremental run reuses it instead
    of running EM when the new records are at most ``reuse_model_max_new_share`` of all
    records and the bank has grown by at most that share since the model was estimated
    (``FellegiSunterModel.records``); otherwise EM runs on the run's own candidate pairs
    (``LinkResult.params["model_source"]`` says which). ``cluster.link_threshold`` is replaced
    by the upper threshold. ``random_u_prior_pairs``: u of the attribute comparisons measured on
    random record pairs weighs as that many non-match pairs in EM (``estimate_model``'s
    ``u_prior``): it anchors small inputs, while large ones learn u among their candidates;
    ``random_u_fixed`` names comparisons whose u stays the random pairs'.
    ``far_u_min_pairs``: with at least that many candidates whose birth years are far
    apart, the u of Dice and document levels is fixed to their frequencies there
    (``scoring.u_from_far_pairs``; None: EM learns them). ``max_review_share``:
    the review queue holds the most probable unlinked band pairs while they touch at most
    that share of the records, or ``min_review_records`` in a small bank (the lower threshold
    reported is where it stopped).
    ``incompatible`` None: ``scoring.INCOMPATIBLE`` (pairs at those levels never auto-link).
    ``apart`` None: ``scoring.APART`` (pairs at those levels never end in one person).
    ``candidate_budget``: each record keeps at most its that-many best candidates by Dice
    (a pair stays when it is among the best of either record, ties kept:
    ``blocking.budget_mask``); pairs sharing a keyed document are kept whatever the budget.
    None: every pair above the floor (memory and EM's non-matches then grow like n²).
    ``dice_calibration``: knots (stored Dice, reference Dice), from (0, 0) to (1, 1), both
    strictly increasing, of a piecewise-linear map from the Dice of the stored encodings to
    the scale every Dice constant here is tuned on (plain vinculo-v1 CLKs). A hardened linkage
    schema declares it (``vinculo_common.schemas.dice_calibration``): diffusion compresses
    Dice. Each Dice the job computes is mapped before use (floor, levels, rules, the pairs'
    ``dice``); the floor given to blocking and LSH's ``design_dice`` are mapped back. None:
    identity.
    """

    dice_floor: float = 0.7
    candidate_budget: int | None = 30
    blocking: str = "lsh"
    lsh: LshParams = field(default_factory=LshParams)
    doc_blocks: bool = True
    thresholds: Thresholds | None = None
    max_false_link_rate: float = 0.005
    max_missed_rate: float = 0.005
    model: FellegiSunterModel | None = None
    previous_model: FellegiSunterModel | None = None
    reuse_model_max_new_share: float = 0.25
    random_u_prior_pairs: float = 1000.0
    random_u_fixed: tuple[str, ...] = ()
    far_u_min_pairs: int | None = 1000
    max_review_share: float = 0.025
    min_review_records: int = 20  # a small bank still gets its few doubtful pairs reviewed
    incompatible: dict[str, tuple[int, ...]] | None = None
    apart: dict[str, tuple[int, ...]] | None = None
    cluster: ClusterParams = field(default_factory=ClusterParams)
    completion_max_pairs: int = 2500
    new_label_prefix: str = "new-"
    dice_calibration: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.dice_floor < 1.0:
            raise InputError(f"dice_floor must be in (0, 1) (got {self.dice_floor})")
        if self.dice_calibration is not None and not calibration_knots_valid(
                self.dice_calibration):
            raise InputError("dice_calibration: knots (stored, reference) from (0, 0) to "
                             "(1, 1), both strictly increasing")
        if self.candidate_budget is not None and self.candidate_budget < 1:
            raise InputError(f"candidate_budget must be ≥ 1 (got {self.candidate_budget})")
        if self.blocking not in ("lsh", "exact"):
            raise InputError(f"blocking must be 'lsh' or 'exact' (got {self.blocking!r})")
        if not 0.0 <= self.reuse_model_max_new_share < 1.0:
            share = self.reuse_model_max_new_share
            raise InputError(f"reuse_model_max_new_share must be in [0, 1) (got {share})")


@dataclass(frozen=True)
class PairTable:
    """Pairs with their Dice, match probability and comparison levels (−1 = missing)."""

    left: np.ndarray
    right: np.ndarray
    dice: np.ndarray
    probability: np.ndarray
    levels: dict[str, np.ndarray]
    reason: np.ndarray  # object: "band" | "cohesion" | "cannot_link" | "size_cap" | ""

    def __len__(self) -> int:
        return len(self.left)

    def take(self, index: np.ndarray, reason: np.ndarray | None = None) -> PairTable:
        return PairTable(
            left=self.left[index],
            right=self.right[index],
            dice=self.dice[index],
            probability=self.probability[index],
            levels={k: v[index] for k, v in self.levels.items()},
            reason=self.reason[index] if reason is None else reason,
        )


@dataclass
class LinkResult:
    """What a job decided; a bank layer writes it (labels ``new-k`` become new pseudonyms)."""

    labels: np.ndarray
    events: list[LineageEvent]
    auto_links: PairTable
    review: PairTable
    model: FellegiSunterModel
    thresholds: Thresholds
    counts: dict[str, int]
    timings: dict[str, float]
    params: dict[str, Any]
    warnings: list[str]


def to_reference(params: LinkParams, dice: np.ndarray) -> np.ndarray:
    """Stored Dice → the reference scale (``LinkParams.dice_calibration``; identity if None)."""
    if params.dice_calibration is None:
        return dice
    stored, reference = zip(*params.dice_calibration, strict=True)
    return np.interp(dice, stored, reference)


def to_stored(params: LinkParams, value: float) -> float:
    """A reference-scale Dice (floor, LSH design) → the stored encodings' Dice."""
    if params.dice_calibration is None:
        return value
    stored, reference = zip(*params.dice_calibration, strict=True)
    return float(np.interp(value, reference, stored))
