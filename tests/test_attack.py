"""The insider attacks of benchmarks/attack_methods.py on small toys with known answers."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.attack_data import fit_dice_calibration
from benchmarks.attack_diffusion import (
    adjacency_quality,
    coflip_adjacency,
    equality_features,
    undo_known_taps,
)
from benchmarks.attack_graph import diffusion_hamming_transform, graph_matching_attack, knn_graph
from benchmarks.attack_methods import (
    Guesses,
    floor_guesses,
    frequency_attack,
    mining_attack,
    score,
)
from client_sdk.hardening import diffuse, diffusion_taps
from linkage_service.linkage import LinkInputs, LinkParams, link
from vinculo_common.schemas import dice_calibration
from vinculo_lab.evaluation.metrics import pairwise_scores
from vinculo_lab.synthetic_clks import SyntheticRegistries, synthetic_registries

NAMES = ["MARIA", "ROSA", "ANA", "CARMEN", "LUZ", "JUANA", "SONIA", "DIANA"]
MEN = ["JOSE", "LUIS", "JUAN"]
WEIGHTS = np.array([40, 20, 12, 8, 6, 5, 5, 4], dtype=float)


def _double_hash_filter(name: str, bits: int = 256, k: int = 15) -> np.ndarray:
    """A per-field doubleHash-like filter: same name → same filter (the leak)."""
    out = np.zeros(bits, dtype=np.uint8)
    padded = f" {name} "
    for gram in (padded[i:i + 2] for i in range(len(padded) - 1)):
        h1 = int.from_bytes(hashlib.blake2b(gram.encode(), person=b"h1").digest()[:4], "big")
        h2 = int.from_bytes(hashlib.blake2b(gram.encode(), person=b"h2").digest()[:4], "big")
        for i in range(k):
            out[(h1 + i * h2) % bits] = 1
    return np.packbits(out)


def test_frequency_attack_recovers_names_from_field_level_filters() -> None:
    rng = np.random.default_rng(1)
    p = WEIGHTS / WEIGHTS.sum()
    census = np.array(rng.choice(NAMES, size=5000, p=p), dtype=object)
    targets = rng.choice(NAMES, size=800, p=p)
    stored = np.stack([_double_hash_filter(n) for n in targets])
    g = frequency_attack(stored, census)
    hit = (g.value == targets).mean()
    assert hit > 0.8
    conf = g.confident
    assert conf.any() and (g.value[conf] == targets[conf]).mean() > 0.9


def test_floor_uses_most_specific_group_with_enough_people() -> None:
    census_keys = [("F", "PER")] * 3 + [("F", "VEN")] * 1 + [("M", "PER")] * 2
    census = np.array(["ROSA", "ROSA", "ANA", "YOSELIN", "JOSE", "JOSE"])
    got = floor_guesses([("F", "PER"), ("F", "VEN"), ("M", "COL")], census_keys, census,
                        min_group=2)
    # F/VEN has one person (< 2): falls back to all F; M/COL to all M.
    assert got.tolist() == ["ROSA", "ROSA", "JOSE"]


def test_score_falls_back_to_floor_and_measures_confident_precision() -> None:
    g = Guesses(np.array(["ANA", "", "LUZ", "ROSA"], dtype=object),
                np.array([True, False, True, False]))
    truth = np.array(["ANA", "ROSA", "ANA", "ROSA"])
    s = score(g, truth, np.array(["MARIA", "ROSA", "ANA", "MARIA"]))
    assert s.share == 0.75  # ANA (attack), ROSA (floor), LUZ wrong, ROSA (attack)
    assert s.confident == 0.5
    assert s.precision == 0.5


def _toy_record_bits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record-level filters: a given-name signature (100 positions, one per name), a surname
    signature, sex bits and 35 % background noise."""
    rng = np.random.default_rng(seed)
    width = 1024
    sig = {name: rng.choice(width, 100, replace=False) for name in NAMES}
    sig.update({name: rng.choice(width, 100, replace=False) for name in MEN})
    sex_bits = {"F": rng.choice(width, 15, replace=False), "M": rng.choice(width, 15,
                                                                         replace=False)}
    p = WEIGHTS / WEIGHTS.sum()
    sex = np.where(rng.random(n) < 0.8, "F", "M")
    names = np.where(sex == "F", rng.choice(NAMES, size=n, p=p), rng.choice(MEN, size=n))
    bits = (rng.random((n, width)) < 0.35).astype(np.uint8)
    for i in range(n):
        bits[i, sig[names[i]]] = 1
        bits[i, sex_bits[sex[i]]] = 1
    return bits, sex, names


def test_mining_attack_finds_signatures_and_diffusion_hides_them() -> None:
    bits, sex, names = _toy_record_bits(1500, 5)
    rng = np.random.default_rng(9)
    p = WEIGHTS / WEIGHTS.sum()
    census_first = rng.choice(NAMES, size=6000, p=p)
    census_sex = np.array(["F"] * 6000)
    census_pat = np.array(["QUISPE"] * 6000)
    first, _ = mining_attack(bits, sex=sex, birth_year=np.full(len(bits), np.nan),
                             partitions=np.array([""] * len(bits)), census_sex=census_sex,
                             census_first=census_first, census_paternal=census_pat)
    women = sex == "F"
    guessed = (first.value != "") & women
    assert guessed.mean() > 0.3
    assert (first.value[guessed] == names[guessed]).mean() > 0.6  # chance: about 0.3
    conf = first.confident & women
    assert conf.any() and (first.value[conf] == names[conf]).mean() > 0.9

    packed = np.packbits(bits, axis=1)
    hidden = np.unpackbits(diffuse(packed, key=b"k" * 32, t=2, output_bits=1024), axis=1)
    first_d, _ = mining_attack(hidden, sex=sex, birth_year=np.full(len(bits), np.nan),
                               partitions=np.array([""] * len(bits)), census_sex=census_sex,
                               census_first=census_first, census_paternal=census_pat)
    assert not first_d.confident.any()


def _pairwise_f1(d: SyntheticRegistries, clks: np.ndarray,
                 calibration: tuple[tuple[float, float], ...] | None) -> float:
    inputs = LinkInputs(clks=clks, sources=d.sources, sex=d.sex, doc_hash=d.doc_hash,
                        birth_year_min=d.birth_year_min, birth_year_max=d.birth_year_max,
                        event_date=d.event_date)
    labels = link(inputs, LinkParams(dice_calibration=calibration)).labels.tolist()
    keys = [(str(s), str(i)) for i, s in enumerate(d.sources.tolist())]
    return pairwise_scores(dict(zip(keys, d.person.tolist(), strict=True)),
                           dict(zip(keys, labels, strict=True))).f1


def test_fitted_calibration_gives_diffused_bits_back_their_linkage() -> None:
    d = synthetic_registries(records_per_source=300, seed=5)
    hidden = diffuse(d.clks, key=b"k" * 32, t=2, output_bits=1024)
    knots = fit_dice_calibration(d.clks, hidden, per_bin=2000)
    assert knots[0] == [0.0, 0.0] and knots[-1] == [1.0, 1.0] and len(knots) > 10
    assert all(s < r - 0.02 for s, r in knots if 0.6 <= r < 1)  # diffusion compresses Dice
    calibration = dice_calibration({"vinculo": {"linkage": {"dice_calibration": knots}}})
    raw = _pairwise_f1(d, d.clks, None)
    plain = _pairwise_f1(d, hidden, None)
    fixed = _pairwise_f1(d, hidden, calibration)
    # Measured: raw 0.950, diffused 0.910, diffused and calibrated 0.947.
    assert plain < raw - 0.02
    assert fixed > raw - 0.015 and fixed > plain + 0.02
    # Unhardened bits: the fitted map is the identity, near enough.
    same = fit_dice_calibration(d.clks, d.clks, per_bin=500)
    assert all(abs(s - r) < 0.013 for s, r in same)


# --- graph matching: plain Bloom filters, the attacker's own key ---------------------------

_SYL = ["ma", "ri", "a", "jo", "se", "lu", "is", "an", "to", "ni", "ca", "ro", "sa", "qui",
        "spe", "flo", "res", "hu", "am", "ch", "ti", "con", "do", "ya", "pa", "me", "li", "go"]


def _toy_people(n: int, seed: int) -> list[tuple[str, str, str, int]]:
    """Synthetic people: Zipf-distributed syllable names and surnames, a birth year."""
    rng = np.random.default_rng(seed)
    firsts = ["".join(rng.choice(_SYL, size=2)) for _ in range(60)]
    surnames = ["".join(rng.choice(_SYL, size=3)) for _ in range(300)]
    pf = 1 / np.arange(1, 61)
    ps = 1 / np.arange(1, 301) ** 0.8
    return [(str(rng.choice(firsts, p=pf / pf.sum())), str(rng.choice(surnames, p=ps / ps.sum())),
             str(rng.choice(surnames, p=ps / ps.sum())), int(rng.integers(1960, 2010)))
            for _ in range(n)]


def _toy_bloom(people: list[tuple[str, str, str, int]], key: bytes, bits: int = 1024,
               k: int = 20) -> np.ndarray:
    """Record-level Bloom filters (bigrams of each name field, the year), keyed like clkhash's
    blakeHash: another key gives other positions for every token."""
    out = np.zeros((len(people), bits), dtype=np.uint8)
    for i, (first, pat, mat, year) in enumerate(people):
        tokens = [f"y{year}"]
        for field, value in (("f", first), ("p", pat), ("m", mat)):
            v = f"_{value}_"
            tokens += [field + v[j:j + 2] for j in range(len(v) - 1)]
        for token in tokens:
            h = hashlib.blake2b(token.encode(), key=key, digest_size=64).digest()
            for j in range(k):
                out[i, int.from_bytes(h[2 * j:2 * j + 2], "big") % bits] = 1
    return np.packbits(out, axis=1)


def _graph_case(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bank's filters (key A), the attacker's filters of the same people in another
    order (her key B), and the truth: bank record i is plaintext record truth[i]."""
    people = _toy_people(n, 1)
    order = np.random.default_rng(3).permutation(n)
    bank = _toy_bloom(people, b"bank key" * 4)
    mine = _toy_bloom([people[i] for i in order], b"attacker" * 4)
    truth = np.empty(n, dtype=np.int64)
    truth[order] = np.arange(n)
    return bank, mine, truth


def test_graph_matching_reidentifies_plain_bloom_filters_encoded_with_her_own_key() -> None:
    bank, mine, truth = _graph_case(300)
    gm = graph_matching_attack(knn_graph(bank), knn_graph(mine), bank, mine)
    guessed = gm.match >= 0
    # Measured: 92 % guessed, all right; the feature stage alone: 41 %.
    assert (guessed & (gm.match == truth)).mean() > 0.7
    assert (gm.match[guessed] == truth[guessed]).mean() > 0.95
    # A plaintext register of other people: nothing to find; what it guesses is never right.
    others = _toy_bloom(_toy_people(300, 2), b"attacker" * 4)
    gm_none = graph_matching_attack(knn_graph(bank), knn_graph(others), bank, others)
    assert (gm_none.match >= 0).mean() < 0.3


def test_homomorphism_graph_matching_on_hamming_distances_of_plain_filters() -> None:
    bank, mine, truth = _graph_case(300)
    identity = diffusion_hamming_transform(1)  # t = 1: the map h' = h
    assert np.allclose(identity(np.array([0.3, 0.9])), [0.3, 0.9])
    gm = graph_matching_attack(knn_graph(bank, hamming=True),
                               knn_graph(mine, hamming=True, transform=identity), bank, mine,
                               hamming=True, transform=identity)
    assert ((gm.match >= 0) & (gm.match == truth)).mean() > 0.7


# --- the linear diffusion layer ------------------------------------------------------------

def test_diffusion_layer_structure_is_recovered_from_linked_pairs_and_undone() -> None:
    bits, sex, names = _toy_record_bits(1500, 5)
    rng = np.random.default_rng(4)
    # Linked pairs: 800 records and a second record of the same person (3 % of bits differ).
    copies = bits[:800] ^ (rng.random((800, bits.shape[1])) < 0.03).astype(np.uint8)
    key = b"k" * 32
    stored = diffuse(np.packbits(np.vstack([bits, copies]), axis=1), key=key, t=2,
                     output_bits=1024)
    taps = diffusion_taps(key, input_bits=1024, output_bits=1024, t=2)
    left, right = np.arange(800), 1500 + np.arange(800)
    j, k = coflip_adjacency(stored, left, right)
    precision, recall = adjacency_quality(j, k, taps)
    assert precision > 0.8 and recall > 0.5  # measured: 1.0, 0.95
    assert equality_features(stored[:3], j, k).shape == (3, len(j))

    undone = undo_known_taps(stored[:1500], taps, 1024)
    tapped = np.zeros(1024, dtype=bool)
    tapped[np.unique(taps)] = True
    agree = (undone[:, tapped] == bits[:, tapped]).mean()
    assert agree > 0.8  # x up to a complement per component, resolved by weight
    census_first = np.random.default_rng(9).choice(NAMES, size=6000, p=WEIGHTS / WEIGHTS.sum())
    first, _ = mining_attack(undone, sex=sex, birth_year=np.full(1500, np.nan),
                             partitions=np.array([""] * 1500), census_sex=np.array(["F"] * 6000),
                             census_first=census_first,
                             census_paternal=np.array(["QUISPE"] * 6000))
    conf = first.confident & (sex == "F")
    assert conf.any() and (first.value[conf] == names[conf]).mean() > 0.9


@pytest.mark.slow
def test_results_join_section_is_regenerated_by_the_harness(tmp_path: Path) -> None:
    """``--results --only join`` reruns the clear-attribute join through the real path and
    rewrites only its section. The exact attributes (the bank opened with the custody key) must
    re-identify most of RETA's records, so the join cannot pass by being weak; what is readable
    without the key must re-identify none."""
    from benchmarks.attack import JOIN_VIEWS, SECTIONS, write_results

    kept = {name: f"kept {name} body, untouched" for name in SECTIONS if name != "join"}
    old = "\n\n".join(f"<!-- section {n} -->\n{b}\n<!-- end {n} -->" for n, b in kept.items())
    path = tmp_path / "security-results.md"
    path.write_text("# old header\n\n" + old + "\n", encoding="utf-8")
    text = write_results(path, census_people=100, only=("join",),
                         join_runs=({"people": 40, "seed": 3},))
    assert text == path.read_text(encoding="utf-8")
    for name, body in kept.items():
        assert f"<!-- section {name} -->\n{body}\n<!-- end {name} -->" in text
    section = text[text.index("<!-- section join -->"):text.index("<!-- end join -->")]
    assert "`.venv/bin/python benchmarks/attack.py --join 40 --seed 3`" in section
    rows = [line.split(" | ") for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| what") and "---" not in line]
    assert [r[0].lstrip("| ") for r in rows] == [label for label, _ in JOIN_VIEWS]
    shares = [float(r[2].split("%")[0]) for r in rows]
    assert shares[0] >= 80.0  # exact attributes: nearly every RETA record is unique
    assert shares[1:] == [0.0] * (len(JOIN_VIEWS) - 1)  # custody: nothing without the key
