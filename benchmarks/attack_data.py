"""Data for the insider attack benchmark (benchmarks/attack.py): target registries, census, F1.

- ``build_target``: ``vinculo synth`` registries → the real standardization path
  (``standardize_export``) → StandardizedRecords → raw CLKs (``ClkEncoder``) and everything an
  insider holds (content attributes, doc hashes) plus what only the scorer may see (the
  standardized names, the truth).
- ``build_census``: the public name census the attacker holds: people of the generator under
  another seed, names standardized with the SDK's public rules.
- ``linkage_f1``: the linkage core (``linkage_service.linkage.link``) on stored bits, scored with
  ``vinculo_lab.evaluation.metrics.pairwise_scores`` (with the option's Dice calibration).
- ``fit_dice_calibration``: knots of the map from hardened bits' Dice to the raw CLKs' Dice,
  without labels (what a hardened schema declares in ``vinculo.linkage.dice_calibration``).
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from client_sdk.clk_backend import ClkEncoder
from client_sdk.hardening import Hardener, salt_values
from client_sdk.pipeline import standardize_export
from client_sdk.record_encoder import content_attributes, doc_hash, doc_hash_key, feature_values
from client_sdk.record_encoder import record_ref as make_record_ref
from client_sdk.records import StandardizedRecord
from client_sdk.standardize.names import standardize_names
from vinculo_lab.synth import generate, profile, write_dataset

__all__ = ["CALIBRATION_GRID", "Census", "Target", "build_census", "build_target",
           "dice_only_f1", "encode_clks", "fit_dice_calibration", "fit_posterior_calibration",
           "harden", "harden_clks",
           "linkage_f1", "standardized_registries"]

SOURCES = ("reta", "sistra", "care")
# Reference Dice values (raw CLKs) where the calibration is measured: 0.5 … 0.975.
CALIBRATION_GRID: tuple[float, ...] = tuple(round(0.5 + 0.025 * i, 3) for i in range(20))


@dataclass
class Target:
    """Target registries: what the insider holds and what only the scorer may look at."""

    records: list[StandardizedRecord]
    keys: list[tuple[str, str]]  # (source, record_id): scorer only
    truth: dict[tuple[str, str], str]  # scorer only
    sources: np.ndarray
    clks: np.ndarray  # raw CLKs, before hardening
    record_refs: list[bytes]
    # clear content attributes (the insider has them)
    sex: np.ndarray
    nationality: np.ndarray
    birth_year_min: np.ndarray
    birth_year_max: np.ndarray
    ubigeo_birth: np.ndarray
    event_date: np.ndarray
    doc_hash: np.ndarray
    # the encoded names (scorer only)
    first_given: np.ndarray
    paternal: np.ndarray

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class Census:
    """A public name census: one row per person (sex, nationality, birth year, names)."""

    sex: np.ndarray
    nationality: np.ndarray
    birth_year: np.ndarray
    birth_department: np.ndarray
    first_given: np.ndarray
    given_names: np.ndarray
    paternal: np.ndarray


def _int_or_nan(values: Sequence[int | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values])


def standardized_registries(*, people: int, seed: int, sources: Sequence[str] = SOURCES
                            ) -> tuple[list[StandardizedRecord], list[tuple[str, str]],
                                       dict[tuple[str, str], str]]:
    """``vinculo synth`` registries through the real standardization path: (records,
    (source, record_id) of each, truth person id by (source, record_id))."""
    result = generate(people=people, seed=seed, config=profile("default"))
    records: list[StandardizedRecord] = []
    keys: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(result, Path(tmp))
        with open(Path(tmp) / "truth.csv", encoding="utf-8") as fh:
            truth = {(r["source"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
        for source in sources:
            for chunk in standardize_export(Path(tmp) / f"{source}.csv"):
                for rec in chunk:
                    records.append(rec)
                    keys.append((source, rec.record_id))
    return records, keys, truth


def encode_clks(records: Sequence[StandardizedRecord], schema: dict, secret: bytes
                ) -> np.ndarray:
    """Raw CLKs (before hardening) of ``records`` under ``schema`` and ``secret``."""
    encoder = ClkEncoder(schema, secret=secret)
    rows = [feature_values(r, encoder.feature_names) for r in records]
    return np.frombuffer(b"".join(encoder.encode(rows)), dtype=np.uint8).reshape(len(rows), -1)


def build_target(*, people: int, seed: int, schema: dict, secret: bytes) -> Target:
    """Synthesize, standardize and encode (no hardening) the three registries."""
    records, keys, truth = standardized_registries(people=people, seed=seed)
    clks = encode_clks(records, schema, secret)
    ref_key = bytes(range(32))
    dkey = doc_hash_key(secret)
    attrs = [content_attributes(r) for r in records]
    return Target(
        records=records,
        keys=keys,
        truth=truth,
        sources=np.array([k[0] for k in keys]),
        clks=clks,
        record_refs=[make_record_ref(ref_key, f"{k[0]}|{k[1]}") for k in keys],
        sex=np.array([a["sex"] for a in attrs]),
        nationality=np.array([a["nationality"] for a in attrs]),
        birth_year_min=_int_or_nan([a["birth_year_min"] for a in attrs]),
        birth_year_max=_int_or_nan([a["birth_year_max"] for a in attrs]),
        ubigeo_birth=np.array([a["ubigeo_birth"][:2] for a in attrs]),
        event_date=np.array([a["event_date"] for a in attrs]),
        doc_hash=np.frombuffer(b"".join(doc_hash(dkey, r) for r in records),
                               dtype=np.uint8).reshape(len(records), -1),
        first_given=np.array([r.first_given_name or (r.given_names.split() or [""])[0]
                              for r in records]),
        paternal=np.array([r.surname_paternal for r in records]),
    )


def build_census(*, people: int, seed: int) -> Census:
    """The attacker's public census: generator people under another seed."""
    result = generate(people=people, seed=seed, config=profile("default"))
    sex, nat, year, dept, first, given, pat = [], [], [], [], [], [], []
    for p in result.people:
        parts = standardize_names(nombres=" ".join(p.given), paterno=p.paternal,
                                  materno=p.maternal)
        sex.append(p.sex)
        nat.append(p.nationality)
        year.append(p.birth.year)
        dept.append(p.birth_place[:2])
        first.append(parts.first_given_name)
        given.append(parts.given_names)
        pat.append(parts.surname_paternal)
    return Census(np.array(sex), np.array(nat), np.array(year), np.array(dept),
                  np.array(first), np.array(given), np.array(pat))


def harden(target: Target, schema: dict, secret: bytes) -> np.ndarray:
    """The stored bits under ``schema``'s hardening (raw CLKs when it declares none)."""
    return harden_clks(target.clks, target.records, target.record_refs, schema, secret)


def harden_clks(clks: np.ndarray, records: Sequence[StandardizedRecord],
                record_refs: Sequence[bytes], schema: dict, secret: bytes) -> np.ndarray:
    """``clks`` hardened as ``schema`` declares under ``secret`` (unchanged when it declares
    nothing)."""
    hardener = Hardener(schema, secret=secret)
    if not hardener.active:
        return clks
    salts = salt_values(records, hardener.salt_attributes) \
        if hardener.salt_attributes else None
    return hardener.apply(clks, record_keys=record_refs, salts=salts)


def fit_dice_calibration(raw: np.ndarray, stored: np.ndarray, *,
                         grid: Sequence[float] = CALIBRATION_GRID, half_width: float = 0.0125,
                         per_bin: int = 4000, seed: int = 0) -> list[list[float]]:
    """Knots ``[stored Dice, reference Dice]`` mapping the hardened bits' Dice back to the raw
    CLKs' Dice (the scale the linkage core is tuned on), measured without labels.

    For the record pairs whose raw Dice lies within ``half_width`` of each grid value (at most
    ``per_bin`` of them, drawn with ``seed``), the median Dice of their stored bits; (0, 0) and
    (1, 1) close the map, and a knot that would not increase is dropped. The same records
    before and after hardening are needed, so this is a design-time step on synthetic data.
    """
    from linkage_service.linkage.similarity import dice_candidates_within, dice_of_pairs

    pairs = dice_candidates_within(raw, threshold=min(grid) - half_width)
    rng = np.random.default_rng(seed)
    knots = [[0.0, 0.0]]
    for g in grid:
        idx = np.flatnonzero(np.abs(pairs.dice - g) < half_width)
        if len(idx) < 50:
            continue
        if len(idx) > per_bin:
            idx = rng.choice(idx, size=per_bin, replace=False)
        value = round(float(np.median(dice_of_pairs(stored, pairs.left[idx],
                                                      pairs.right[idx]))), 4)
        if knots[-1][0] < value < 1.0 and knots[-1][1] < g:
            knots.append([value, float(g)])
    knots.append([1.0, 1.0])
    return knots


def fit_posterior_calibration(raw: np.ndarray, stored: np.ndarray, *, start: float = 0.53,
                              step: float = 0.0125, half_width: float = 0.00625,
                              per_bin: int = 4000, seed: int = 0) -> list[list[float]]:
    """Knots ``[stored Dice, reference Dice]`` read the other way round: for each stored Dice
    on a grid from ``start``, the median raw-CLK Dice of the record pairs whose **stored** Dice
    lies there (at most ``per_bin`` of them, drawn with ``seed``); (0, 0) and (1, 1) close
    the map, and a knot that would not increase in both is dropped. Without labels, like
    ``fit_dice_calibration``.

    ``fit_dice_calibration`` maps each stored Dice to the CLK Dice whose pairs have it as their
    median: right for the typical pair of each CLK Dice, but where the hardening is noisy and
    flat (diffusion with t ≥ 3 below CLK Dice 0.7) a stranger pushed up by the noise reads as a
    near match, and strangers outnumber matches by the thousand. This map answers what a pair
    with that stored Dice typically is (the regression of the CLK Dice on the stored one), so
    such pairs stay strangers.
    """
    from linkage_service.linkage.similarity import dice_candidates_within, dice_of_pairs

    pairs = dice_candidates_within(stored, threshold=start - half_width)
    rng = np.random.default_rng(seed)
    knots = [[0.0, 0.0]]
    for g in np.arange(start, 1.0, step):
        g = round(float(g), 4)
        idx = np.flatnonzero(np.abs(pairs.dice - g) < half_width)
        if len(idx) < 50:
            continue
        if len(idx) > per_bin:
            idx = rng.choice(idx, size=per_bin, replace=False)
        value = round(float(np.median(dice_of_pairs(raw, pairs.left[idx], pairs.right[idx]))), 4)
        if knots[-1][0] < g < 1.0 and knots[-1][1] < value < 1.0:
            knots.append([g, value])
    knots.append([1.0, 1.0])
    return knots


def linkage_f1(target: Target, stored: np.ndarray,
               calibration: Sequence[Sequence[float]] | None = None) -> dict[str, float]:
    """Link the stored bits with the linkage core (Dice ``calibration`` knots, if any);
    pairwise precision/recall/F1 vs truth."""
    from linkage_service.linkage import LinkInputs, LinkParams, link
    from vinculo_lab.evaluation.metrics import pairwise_scores

    inputs = LinkInputs(
        clks=stored, sources=target.sources, sex=target.sex,
        birth_year_min=target.birth_year_min, birth_year_max=target.birth_year_max,
        nationality=target.nationality, event_date=target.event_date,
        doc_hash=target.doc_hash,
    )
    knots = None if calibration is None else tuple((float(a), float(b)) for a, b in calibration)
    result = link(inputs, LinkParams(dice_calibration=knots))
    predicted = {k: str(lab) for k, lab in zip(target.keys, result.labels, strict=True)}
    truth = {k: target.truth[k] for k in target.keys if k in target.truth}
    scores = pairwise_scores(truth, predicted)
    return {"precision": scores.precision, "recall": scores.recall, "f1": scores.f1,
            "review": float(len(result.review))}


DICE_ONLY_THRESHOLDS: tuple[float, ...] = tuple(round(0.6 + 0.01 * i, 2) for i in range(36))


def dice_only_f1(target: Target, stored: np.ndarray,
                 thresholds: Sequence[float] = DICE_ONLY_THRESHOLDS) -> dict[str, float]:
    """Best pairwise F1 of Dice ≥ threshold + connected components over a threshold sweep:
    what the stored bits alone separate, without the core's document hash and attributes."""
    from linkage_service.linkage.clustering import components
    from linkage_service.linkage.similarity import dice_candidates_within
    from vinculo_lab.evaluation.metrics import pairwise_scores

    pairs = dice_candidates_within(stored, threshold=min(thresholds))
    truth = {k: target.truth[k] for k in target.keys if k in target.truth}
    best = {"dice_f1": 0.0, "dice_threshold": math.nan}
    for t in thresholds:
        keep = pairs.dice >= t
        labels = components(len(target), pairs.left[keep], pairs.right[keep])
        f1 = pairwise_scores(truth, dict(zip(target.keys, labels.tolist(), strict=True))).f1
        if f1 > best["dice_f1"]:
            best = {"dice_f1": f1, "dice_threshold": t}
    return best


@dataclass
class GraphCase:
    """A graph-matching case: the bank's RETA records (``e_…``) and the attacker's plaintext
    register (``p_…``), ``round(overlap · n)`` of whose records are the bank's records and the
    rest other people's RETA records (another generator seed). ``p_origin``: index of the
    bank record a plaintext record is, else -1 (scorer only). ``other_person``: person of each
    SISTRA/care record in the bank (scorer only)."""

    e_records: list[StandardizedRecord]
    e_person: np.ndarray
    e_first: np.ndarray
    e_paternal: np.ndarray
    e_keys: list[tuple[str, str, str]]  # (sex, nationality, department of birth): clear
    p_records: list[StandardizedRecord]
    p_person: np.ndarray
    p_first: np.ndarray
    p_paternal: np.ndarray
    other_person: np.ndarray


def _names(records: Sequence[StandardizedRecord]) -> tuple[np.ndarray, np.ndarray]:
    first = np.array([r.first_given_name or (r.given_names.split() or [""])[0]
                      for r in records])
    return first, np.array([r.surname_paternal for r in records])


@dataclass
class GraphPool:
    """Everything the cases of one size are drawn from (built once per size)."""

    reta: list[StandardizedRecord]
    reta_person: np.ndarray
    extra: list[StandardizedRecord]
    extra_person: np.ndarray
    other_person: np.ndarray


def build_graph_pool(*, size: int, seed: int, other_seed: int, extra: int) -> GraphPool:
    """The bank's registries (``size`` RETA records and every SISTRA/care record of the same
    people) and ``extra`` RETA records of other people (``other_seed``)."""
    people = int(size * 1.03) + 10
    records, keys, truth = standardized_registries(people=people, seed=seed)
    reta = [i for i, k in enumerate(keys) if k[0] == "reta"][:size]
    if len(reta) < size:
        raise ValueError(f"only {len(reta)} RETA records for size {size}")
    chosen = {truth[keys[i]] for i in reta}
    others = [truth[k] for k in keys if k[0] != "reta" and truth[k] in chosen]
    ex_records: list[StandardizedRecord] = []
    ex_person: list[str] = []
    if extra:
        x_records, x_keys, x_truth = standardized_registries(
            people=int(extra * 1.03) + 10, seed=other_seed, sources=("reta",))
        ex_records = x_records[:extra]
        ex_person = [f"other:{x_truth[k]}" for k in x_keys[:extra]]
    return GraphPool([records[i] for i in reta], np.array([truth[keys[i]] for i in reta]),
                     ex_records, np.array(ex_person, dtype=object), np.array(others))


def graph_case(pool: GraphPool, *, overlap: float, seed: int) -> tuple[GraphCase, np.ndarray]:
    """One overlap's case and the plaintext records' indices into ``pool.reta + pool.extra``."""
    n = len(pool.reta)
    rng = np.random.default_rng(seed)
    shared = rng.choice(n, size=round(overlap * n), replace=False)
    n_extra = n - len(shared)
    if n_extra > len(pool.extra):
        raise ValueError("not enough other people's records for this overlap")
    index = np.concatenate([shared, n + np.arange(n_extra)])
    index = index[rng.permutation(len(index))]
    everyone = pool.reta + pool.extra
    person = np.concatenate([pool.reta_person.astype(object), pool.extra_person])
    p_records = [everyone[i] for i in index.tolist()]
    e_first, e_pat = _names(pool.reta)
    p_first, p_pat = _names(p_records)
    e_keys = []
    for r in pool.reta:
        a = content_attributes(r)
        e_keys.append((a["sex"], a["nationality"], a["ubigeo_birth"][:2]))
    return GraphCase(pool.reta, pool.reta_person.astype(object), e_first, e_pat, e_keys,
                     p_records, person[index], p_first, p_pat, pool.other_person), index
