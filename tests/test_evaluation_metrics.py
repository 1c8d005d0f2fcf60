"""Pairwise scoring on hand-made clusterings with answers worked out by hand, checked against a
brute-force pair loop, and the classification of differences between matching records."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from itertools import combinations

import pytest

from vinculo_lab.evaluation.metrics import (
    KINDS,
    difference_kinds,
    pairwise_scores,
    recall_by_kind,
)
from vinculo_lab.synth import CANONICAL_COLUMNS, QuirkRates, generate, profile

A, B, C, D = ("reta", "a"), ("sistra", "b"), ("sistra", "c"), ("care", "d")


def test_worked_example() -> None:
    # truth {a,b,c}{d}; predicted {a,b}{c,d}
    # true pairs: ab, ac, bc = 3; predicted pairs: ab, cd = 2; both: ab = 1
    # precision 1/2, recall 1/3, F1 = 2 * (1/2 * 1/3) / (1/2 + 1/3) = (1/3) / (5/6) = 2/5
    truth = {A: "p1", B: "p1", C: "p1", D: "p2"}
    predicted = {A: "x", B: "x", C: "y", D: "y"}
    s = pairwise_scores(truth, predicted)
    assert (s.all_pairs.true_pairs, s.all_pairs.predicted_pairs,
            s.all_pairs.true_positives) == (3, 2, 1)
    assert s.precision == pytest.approx(1 / 2)
    assert s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(2 / 5)
    # Cross-source only (a: reta, b and c: sistra, d: care): bc is within sistra.
    # true cross: ab, ac = 2; predicted cross: ab, cd = 2; both: ab = 1 -> P = R = 1/2
    cross = s.cross_source
    assert (cross.true_pairs, cross.predicted_pairs, cross.true_positives) == (2, 2, 1)
    assert cross.precision == pytest.approx(0.5) and cross.recall == pytest.approx(0.5)
    assert s.n_records == 4 and s.n_unpredicted == 0 and s.n_unknown == 0


def test_second_worked_example_with_a_false_merge() -> None:
    # truth {a,b}{c}{d}; predicted {a,b,c,d}: 6 predicted pairs, 1 true pair, found.
    truth = {A: 1, B: 1, C: 2, D: 3}
    s = pairwise_scores(truth, dict.fromkeys(truth, "all"))
    assert s.precision == pytest.approx(1 / 6) and s.recall == 1.0
    assert s.f1 == pytest.approx(2 * (1 / 6) / (1 / 6 + 1))


def test_perfect_prediction_scores_one_whatever_the_labels() -> None:
    truth = {("r", str(i)): i // 3 for i in range(30)}
    predicted = {k: f"cluster-{v * 7 + 1}" for k, v in truth.items()}
    s = pairwise_scores(truth, predicted)
    assert s.precision == s.recall == s.f1 == 1.0
    assert s.cross_source.true_pairs == 0


def test_all_singletons_have_zero_recall() -> None:
    truth = {("r", str(i)): i // 2 for i in range(10)}
    s = pairwise_scores(truth, {k: i for i, k in enumerate(truth)})
    assert s.recall == 0.0 and s.f1 == 0.0
    assert s.precision == 1.0  # no link made: no false link (documented convention)
    missing = pairwise_scores(truth, {})
    assert missing.recall == 0.0 and missing.n_unpredicted == 10


def test_unknown_and_filtered_records() -> None:
    truth = {A: 1, B: 1, C: 2, D: 2}
    predicted = {A: "x", B: "x", C: "y", D: "y", ("reta", "zz"): "x"}
    s = pairwise_scores(truth, predicted)
    assert s.n_unknown == 1 and s.precision == 1.0 and s.recall == 1.0
    only = pairwise_scores(truth, predicted, sources=["sistra"])
    assert only.n_records == 2 and only.all_pairs.true_pairs == 0


def _brute_force(truth: dict, predicted: dict) -> tuple[int, int, int, int, int, int]:
    keys = sorted(truth)
    t = p = tp = tc = pc = tpc = 0
    for x, y in combinations(keys, 2):
        same_t = truth[x] == truth[y]
        same_p = x in predicted and y in predicted and predicted[x] == predicted[y]
        cross = x[0] != y[0]
        t += same_t
        p += same_p
        tp += same_t and same_p
        tc += same_t and cross
        pc += same_p and cross
        tpc += same_t and same_p and cross
    return t, p, tp, tc, pc, tpc


@pytest.mark.parametrize("seed", range(6))
def test_contingency_counts_equal_a_brute_force_pair_loop(seed: int) -> None:
    rnd = random.Random(seed)
    truth = {(rnd.choice("RSC"), str(i)): rnd.randrange(25) for i in range(120)}
    predicted = {k: rnd.randrange(30) for k in truth if rnd.random() < 0.9}
    predicted[("R", "extra")] = 3
    s = pairwise_scores(truth, predicted)
    got = (s.all_pairs.true_pairs, s.all_pairs.predicted_pairs, s.all_pairs.true_positives,
           s.cross_source.true_pairs, s.cross_source.predicted_pairs,
           s.cross_source.true_positives)
    assert got == _brute_force(truth, predicted)


ROW = {"nombres": "MARÍA ISABEL", "apellido_paterno": "QUISPE", "apellido_materno": "MAMANI",
       "sexo": "F", "fecha_nacimiento": "2004-03-07", "edad": "", "tipo_documento": "DNI",
       "numero_documento": "04512378"}


def _with(**changes: str) -> dict[str, str]:
    return ROW | changes


@pytest.mark.parametrize(("changes", "kind"), [
    ({"apellido_paterno": "MAMANI", "apellido_materno": "QUISPE"}, "swapped_surnames"),
    ({"apellido_materno": ""}, "missing_maternal_surname"),
    ({"apellido_materno": "MAMANI DE FLORES"}, "married_name"),
    ({"nombres": "MARÍA ISABEL QUISPE MAMANI", "apellido_paterno": "", "apellido_materno": ""},
     "whole_name_in_nombres"),
    ({"nombres": "QUISPE MAMANI, MARIA ISABEL", "apellido_paterno": "",
      "apellido_materno": ""}, "whole_name_in_nombres"),
    ({"nombres": "MARÍA"}, "second_given_name_differs"),
    ({"nombres": "MARÍA I."}, "second_given_name_differs"),
    ({"nombres": "ISABEL MARÍA"}, "given_names_reordered"),
    ({"nombres": "MARY ISABEL"}, "nickname"),
    ({"apellido_paterno": "KISPE"}, "spelling_variant"),
    ({"apellido_paterno": "QUIAPE"}, "name_typo"),
    ({"apellido_paterno": "TORRES"}, "name_differs"),
    ({"nombres": "MARIA ISABEL"}, "accents"),
    ({"nombres": "maría isabel"}, "case_or_spacing"),
    ({"nombres": "MARÍA  ISABEL"}, "case_or_spacing"),
    ({"fecha_nacimiento": "", "edad": "17"}, "age_instead_of_birth_date"),
    ({"fecha_nacimiento": ""}, "birth_date_missing"),
    ({"fecha_nacimiento": "2004"}, "partial_birth_date"),
    ({"fecha_nacimiento": "2004-07-03"}, "day_month_swapped"),
    ({"fecha_nacimiento": "07/03/2004", "edad": "16"}, "no_difference"),
    ({"fecha_nacimiento": "2004-03-09"}, "birth_date_typo"),
    ({"fecha_nacimiento": "1999-12-25"}, "birth_date_differs"),
    ({"numero_documento": ""}, "document_missing"),
    ({"numero_documento": "4512378"}, "dni_lost_leading_zero"),
    ({"numero_documento": "04512387"}, "document_transposed"),
    ({"numero_documento": "04519378"}, "document_typo"),
    ({"numero_documento": "04512378-5"}, "dni_check_character"),
    ({"numero_documento": "045 123 78"}, "no_difference"),
    ({"tipo_documento": "CE", "numero_documento": "001234567"}, "different_document_type"),
    ({"tipo_documento": ""}, "document_type_missing"),
    ({"numero_documento": "70012345"}, "different_document_number"),
    ({"sexo": ""}, "sex_missing"),
    ({"sexo": "M"}, "sex_differs"),
    ({"sexo": "MUJER"}, "no_difference"),
])
def test_difference_kinds_on_hand_made_pairs(changes: dict[str, str], kind: str) -> None:
    assert kind in KINDS
    got = difference_kinds(ROW, _with(**changes))
    assert kind in got, got
    assert difference_kinds(_with(**changes), ROW) == got  # symmetric


def test_enye_variants_and_particles() -> None:
    base = {"nombres": "ROSA", "apellido_paterno": "PEÑA", "apellido_materno": "DE LA CRUZ"}
    for written in ("PENA", "PENIA", "PEÃ‘A", "PE—A", "PEÐA"):
        assert "enye_variant" in difference_kinds(base, base | {"apellido_paterno": written})
    assert "particle_spacing" in difference_kinds(base, base | {"apellido_materno": "DELA CRUZ"})
    assert difference_kinds(base, dict(base)) == {"no_difference"}


def test_recall_by_kind_counts_pairs_once_per_kind() -> None:
    truth = {A: 1, B: 1, C: 1, D: 2}
    rows = {A: ROW, B: _with(apellido_materno=""), C: ROW, D: ROW}
    predicted = {A: "x", C: "x", B: "y", D: "z"}
    out = recall_by_kind(truth, predicted, rows)
    # pairs: (a,b) missing maternal, not linked; (a,c) identical, linked; (b,c) missing, not
    assert out["all"].pairs == 3 and out["all"].found == 1
    assert out["missing_maternal_surname"].pairs == 2
    assert out["missing_maternal_surname"].recall == 0.0
    assert out["no_difference"].recall == 1.0
    cross = recall_by_kind(truth, predicted, rows, cross_source_only=True)
    assert cross["all"].pairs == 2  # (b, c) are both sistra


# What difference_kinds must report for a record whose only quirk is the key, compared with a
# quirk-free record of the same person.
EXPECTED = {
    "surnames_swapped": "swapped_surnames", "maternal_missing": "missing_maternal_surname",
    "married_name": "married_name", "whole_name_in_nombres": "whole_name_in_nombres",
    "second_given_dropped": "second_given_name_differs",
    "second_given_initial": "second_given_name_differs",
    "given_names_reordered": "given_names_reordered", "nickname": "nickname",
    "spelling_variant": "spelling_variant", "name_typo": "name_typo",
    "accents_dropped": "accents", "enye_as_n": "enye_variant", "enye_as_ni": "enye_variant",
    "enye_mangled": "enye_variant", "case_variation": "case_or_spacing",
    "extra_whitespace": "case_or_spacing", "particle_spacing": "particle_spacing",
    "birth_date_age_only": "age_instead_of_birth_date",
    "birth_date_and_age_missing": "birth_date_missing",
    "birth_date_year_only": "partial_birth_date", "birth_date_year_month": "partial_birth_date",
    "day_month_swapped": "day_month_swapped", "date_digit_typo": "birth_date_typo",
    "document_missing": "document_missing", "dni_lost_leading_zero": "dni_lost_leading_zero",
    "dni_transposed": "document_transposed", "document_digit_typo": "document_typo",
    "dni_check_character": "dni_check_character",
    "document_type_missing": "document_type_missing",
    "document_type_wrong": "different_document_type",
    "foreign_other_document": "different_document_type",
    "sex_missing": "sex_missing", "sex_wrong": "sex_differs",
}


@pytest.mark.parametrize("quirk", sorted(EXPECTED))
def test_difference_kinds_recovers_each_generator_quirk(quirk: str) -> None:
    """Generate data where only ``quirk`` happens (at rate 0.5): a record that has it, compared
    with a record of the same person that has none, must show the expected kind."""
    rates = QuirkRates(**(dict.fromkeys(QuirkRates().as_dict(), 0.0) | {quirk: 0.5}))
    config = replace(profile("default"), quirks=rates)
    rare = {"particle_spacing", "married_name", "enye_as_n", "enye_as_ni", "enye_mangled",
            "dni_lost_leading_zero"}  # few people can have these: draw more people
    result = generate(people=1200 if quirk in rare else 300, seed=sum(map(ord, quirk)),
                      config=config)
    rows = {(s, r[0]): dict(zip(CANONICAL_COLUMNS, r, strict=True))
            for s, t in result.tables.items() for r in t}
    person_of = {(s, rid): pid for s, rid, pid in result.truth}
    clean: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with_quirk: list[tuple[str, str]] = []
    for source, rid, tags in result.quirks:
        if quirk in tags.split(";"):
            with_quirk.append((source, rid))
        else:
            clean[person_of[(source, rid)]].append((source, rid))
    tries = hits = 0
    for key in with_quirk:
        refs = clean.get(person_of[key])
        if refs:
            tries += 1
            hits += EXPECTED[quirk] in difference_kinds(rows[refs[0]], rows[key])
    assert tries >= 8, f"too few pairs for {quirk}"
    floor = 0.75 if quirk in {"name_typo", "spelling_variant"} else 0.9
    assert hits / tries >= floor, (quirk, hits, tries)


def test_records_without_quirks_show_no_difference() -> None:
    result = generate(people=800, seed=22, config=profile("clean"))
    rows = {(s, r[0]): dict(zip(CANONICAL_COLUMNS, r, strict=True))
            for s, t in result.tables.items() for r in t}
    truth = {(s, rid): pid for s, rid, pid in result.truth}
    out = recall_by_kind(truth, dict(truth), rows)
    assert out["all"].pairs > 500 and out["all"].recall == 1.0
    assert out["no_difference"].pairs == out["all"].pairs
