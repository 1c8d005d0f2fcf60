"""The insider attack benchmark: what the linkage service's operator can learn from encodings.

    .venv/bin/python benchmarks/attack.py --results   # rewrites docs/security-results.md
    .venv/bin/python benchmarks/attack.py --people 6000 --seed 21 --census-seed 22 \\
        --options v1,default
    .venv/bin/python benchmarks/attack.py --calibrate vinculo-v4   # knots for the schema file
    .venv/bin/python benchmarks/attack.py --graph 2000 --options v1,vinculo-v4 --seeds 0,0.1
    .venv/bin/python benchmarks/attack.py --diffusion 3000 --options vinculo-v4

``--graph N``: graph matching and its homomorphism variant (``benchmarks/attack_graph.py``) on N
RETA records of the bank against the attacker's plaintext at each ``--overlaps``, with
``--seeds`` known pairs. ``--diffusion P``: the linear-layer attack
(``benchmarks/attack_diffusion.py``) on a bank of P people. ``--join P``: RETA's export joined
with what the insider reads of a real-path bank of P people (``vinculo_lab.attacks.join``).

For each hardening option (a linkage schema = vinculo-v1 + a ``vinculo.hardening`` block) it
encodes ``vinculo synth`` registries, hardens them with ``client_sdk.hardening`` and runs the
attacks of ``benchmarks/attack_methods.py`` as an insider: all stored encodings and the clear
content attributes, plus a public census (the generator under ``--census-seed``); never the
targets' plaintext or the secret. It prints, per option, the share of records whose first given
name / paternal surname / both are re-identified (attack guess where it has one, the floor's
guess elsewhere), the precision of confident guesses, the floor (names alone), and the F1 of the
linkage core on the stored bits (``benchmarks/attack_data.linkage_f1``) with the option's Dice
calibration: the one its schema declares (``vinculo.linkage.dice_calibration``), else one fitted
on the spot (``attack_data.fit_dice_calibration``). Options named ``vinculo-…`` are the schema
files themselves; ``default`` is the project's default schema. One run prints its table;
``--results`` runs ``RESULTS_RUNS`` and rewrites ``docs/security-results.md``. ``--calibrate ID``
prints the knots fitted for an option or schema (what a hardened schema file declares), exits.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.attack_data import (
    GraphPool,
    Target,
    build_census,
    build_graph_pool,
    build_target,
    dice_only_f1,
    encode_clks,
    fit_dice_calibration,
    fit_posterior_calibration,
    graph_case,
    harden,
    harden_clks,
    linkage_f1,
)
from benchmarks.attack_diffusion import (
    adjacency_quality,
    coflip_adjacency,
    equality_features,
    undo_known_taps,
)
from benchmarks.attack_graph import (
    Graph,
    diffusion_hamming_transform,
    graph_matching_attack,
    knn_graph,
)
from benchmarks.attack_methods import (
    floor_guesses,
    frequency_attack,
    mining_attack,
    score,
)
from client_sdk.hardening import Hardener, diffusion_taps
from vinculo_common.schemas import (
    DEFAULT_SCHEMA_ID,
    dice_calibration,
    known_fingerprints,
    load_linkage_schema,
)

# Hardening options on vinculo-v1's CLK (the schema files are options too: ``vinculo-…``).

OPTIONS: dict[str, list[dict]] = {
    "v1": [],
    "xor_fold": [{"type": "xor_fold"}],
    "balance": [{"type": "balance"}],
    "blip_f0.02": [{"type": "blip", "f": 0.02}],
    "blip_f0.05": [{"type": "blip", "f": 0.05}],
    "salt_birth_year": [{"type": "salt", "attributes": ["birth_year"]}],
    "salt_year_decade_sex": [{"type": "salt", "attributes": ["birth_year", "birth_decade", "sex"]}],
    "diffusion_t2": [{"type": "diffusion", "t": 2, "output_bits": 1024}],
    "diffusion_t3": [{"type": "diffusion", "t": 3, "output_bits": 1024}],
    "diffusion_t3_2048": [{"type": "diffusion", "t": 3, "output_bits": 2048}],
    "diffusion_t4": [{"type": "diffusion", "t": 4, "output_bits": 1024}],
    "diffusion_t4_2048": [{"type": "diffusion", "t": 4, "output_bits": 2048}],
    "blip_f0.02+diffusion_t2": [{"type": "blip", "f": 0.02},
                                {"type": "diffusion", "t": 2, "output_bits": 1024}],
    "diffusion_t1": [{"type": "diffusion", "t": 1, "output_bits": 1024}],
}
SCHEMA_OPTIONS = ("default", *sorted(set(known_fingerprints().values())))
SECRET = b"benchmark linkage secret, synthetic only"
# The attacker's own linkage secret: she encodes her plaintext under the public schema with it.
ATTACKER_SECRET = b"the insider's own secret, synthetic only"


def option_schema(name: str) -> dict:
    """vinculo-v1 plus the option's hardening block (its own schema id); a ``vinculo-…``
    option is that schema file, "default" the project's default schema file."""
    if name in SCHEMA_OPTIONS:
        return load_linkage_schema(DEFAULT_SCHEMA_ID if name == "default" else name)
    schema = copy.deepcopy(load_linkage_schema("vinculo-v1"))
    if OPTIONS[name]:
        schema["vinculo"]["schema_id"] = f"bench-{name}"
        schema["vinculo"]["hardening"] = {"steps": copy.deepcopy(OPTIONS[name])}
    return schema


def option_steps(schema: dict) -> list[dict]:
    """The hardening steps a schema declares ([] for none)."""
    return list(((schema.get("vinculo") or {}).get("hardening") or {}).get("steps") or [])


def _partitions(target: Target, steps: list[dict]) -> np.ndarray:
    """Salt groups the attacker can infer from clear attributes (birth year, decade, sex)."""
    n = len(target)
    salt = next((s for s in steps if s["type"] == "salt"), None)
    if salt is None:
        return np.array([""] * n)
    low, high = target.birth_year_min, target.birth_year_max
    out = []
    for i in range(n):
        value = ""
        for attr in salt["attributes"]:
            if attr == "birth_year" and low[i] == high[i] and not math.isnan(low[i]):
                value = f"y{int(low[i])}"
            elif attr == "birth_decade" and not math.isnan(low[i]) and \
                    low[i] // 10 == high[i] // 10:
                value = f"d{int(low[i]) // 10}"
            elif attr == "sex" and target.sex[i]:
                value = f"s{target.sex[i]}"
            if value:
                break
        out.append(value)
    return np.array(out)


def run(people: int, seed: int, census_seed: int, census_people: int,
        names: list[str]) -> list[dict]:
    t0 = time.perf_counter()
    base_schema = load_linkage_schema("vinculo-v1")
    target = build_target(people=people, seed=seed, schema=base_schema, secret=SECRET)
    census = build_census(people=census_people, seed=census_seed)
    print(f"# {len(target)} records of {people} people; census {census_people} people "
          f"(seed {census_seed}); {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    keys = list(zip(target.sex, target.nationality, target.ubigeo_birth, strict=True))
    census_keys = list(zip(census.sex, census.nationality, census.birth_department, strict=True))
    floor_first = floor_guesses(keys, census_keys, census.first_given)
    floor_pat = floor_guesses([k[1:] for k in keys], [k[1:] for k in census_keys],
                              census.paternal)
    floor_ok_first = floor_first == target.first_given
    floor_ok_pat = floor_pat == target.paternal
    floor = {"first": float(floor_ok_first.mean()), "paternal": float(floor_ok_pat.mean()),
             "both": float((floor_ok_first & floor_ok_pat).mean())}
    full_names = np.array([f"{a} {b}" for a, b in zip(census.first_given, census.paternal,
                                                       strict=True)])
    rows = []
    for name in names:
        t1 = time.perf_counter()
        schema = option_schema(name)
        steps = option_steps(schema)
        stored = harden(target, schema, SECRET)
        bits = np.unpackbits(stored, axis=1)
        knots = dice_calibration(schema)
        calibration = "declared" if knots is not None else "—"
        if knots is None and steps:
            knots = tuple((a, b) for a, b in fit_dice_calibration(target.clks, stored))
            calibration = "fitted"
        blip = next((s for s in steps if s["type"] == "blip"), None)
        sig = 0.95 if blip is None else max(0.6, 1.0 - blip["f"] / 2 - 0.03)
        first_g, pat_g = mining_attack(
            bits, sex=target.sex, birth_year=target.birth_year_min,
            partitions=_partitions(target, steps), census_sex=census.sex,
            census_first=census.first_given, census_paternal=census.paternal, sig=sig)
        s_first = score(first_g, target.first_given, floor_first)
        s_pat = score(pat_g, target.paternal, floor_pat)
        freq = frequency_attack(stored, full_names)
        full_truth = np.array([f"{a} {b}" for a, b in zip(target.first_given, target.paternal,
                                                          strict=True)])
        freq_hits = float(((freq.value != "") & (freq.value == full_truth)).mean())
        quality = {**linkage_f1(target, stored, knots), **dice_only_f1(target, stored)}
        row = {
            "option": name, "bits": stored.shape[1] * 8, "calibration": calibration,
            "first": s_first.share, "paternal": s_pat.share,
            "both": float((s_first.correct & s_pat.correct).mean()),
            "conf_first": s_first.confident, "prec_first": s_first.precision,
            "conf_pat": s_pat.confident, "prec_pat": s_pat.precision,
            "freq_both": freq_hits, **quality, "seconds": time.perf_counter() - t1,
        }
        rows.append(row)
        print(f"# {name}: {row['seconds']:.1f} s", file=sys.stderr)
    for row in rows:
        row["floor"] = floor
    return rows


def _refs(n: int, tag: str) -> list[bytes]:
    return [hashlib.sha256(f"{tag}|{i}".encode()).digest() for i in range(n)]


def run_graph(size: int, seed: int, other_seed: int, census_seed: int, census_people: int,
              names: list[str], overlaps: list[float], *, k: int = 15,
              seeds: tuple[float, ...] = (0.0,),
              attacks: tuple[str, ...] = ("graph", "homomorphism"),
              pool: GraphPool | None = None, min_corr: float = 0.35,
              margin: float = 0.08) -> list[dict]:
    """Graph matching (and, for a diffusion schema, its homomorphism variant) on ``size`` RETA
    records of the bank, against the attacker's plaintext at each overlap. ``min_corr``,
    ``margin``: the anchor-profile acceptance (the defaults, or a bolder attacker's)."""
    t0 = time.perf_counter()
    if pool is None:
        pool = build_graph_pool(size=size, seed=seed, other_seed=other_seed,
                                extra=size - round(min(overlaps) * size))
    census = build_census(people=census_people, seed=census_seed)
    print(f"# graph: {size} RETA records, {len(pool.other_person)} SISTRA/care; "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    census_keys = list(zip(census.sex, census.nationality, census.birth_department, strict=True))
    base = load_linkage_schema("vinculo-v1")
    everyone = pool.reta + pool.extra
    e_raw = encode_clks(pool.reta, base, SECRET)
    a_raw = encode_clks(everyone, base, ATTACKER_SECRET)  # the attacker's own keys
    rows = []
    for name in names:
        schema = option_schema(name)
        steps = option_steps(schema)
        e_stored = harden_clks(e_raw, pool.reta, _refs(len(pool.reta), "e"), schema, SECRET)
        a_stored = harden_clks(a_raw, everyone, _refs(len(everyone), "a"), schema,
                               ATTACKER_SECRET)
        t1 = time.perf_counter()
        diffusion = [s for s in steps if s["type"] == "diffusion"]
        ge = knn_graph(e_stored, k=k) if "graph" in attacks else None
        ge_h = knn_graph(e_stored, k=k, hamming=True) \
            if diffusion and "homomorphism" in attacks else None
        t_graph = (time.perf_counter() - t1) / 2 if ge is not None and ge_h is not None \
            else time.perf_counter() - t1
        for overlap in overlaps:
            case, index = graph_case(pool, overlap=overlap, seed=seed)
            floor_first = floor_guesses(case.e_keys, census_keys, census.first_given)
            floor_pat = floor_guesses([kk[1:] for kk in case.e_keys],
                                      [kk[1:] for kk in census_keys], census.paternal)
            todo: list[tuple[str, Graph, np.ndarray, bool, Any]] = \
                [] if ge is None else [("graph matching", ge, a_stored[index], False, None)]
            if ge_h is not None:
                t = int(diffusion[-1]["t"])
                todo.append(("homomorphism graph matching", ge_h, a_raw[index], True,
                             diffusion_hamming_transform(t)))
            truth = np.full(size, -1, dtype=np.int64)
            in_plain = index < size
            truth[index[in_plain]] = np.flatnonzero(in_plain)
            for attack, g_e, p_bits, hamming, transform in todo:
                t3 = time.perf_counter()
                gp = knn_graph(p_bits, k=k, hamming=hamming, transform=transform)
                t_gp = time.perf_counter() - t3
                for seed_share in seeds:
                    t2 = time.perf_counter() - t_gp
                    known = None
                    rest = np.ones(size, dtype=bool)
                    if seed_share > 0:
                        rng = np.random.default_rng(seed)
                        overlapping = np.flatnonzero(truth >= 0)
                        chosen = rng.choice(overlapping, replace=False,
                                            size=round(seed_share * len(overlapping)))
                        known = np.full(size, -1, dtype=np.int64)
                        known[chosen] = truth[chosen]
                        rest[chosen] = False
                    gm = graph_matching_attack(g_e, gp, e_stored, p_bits, hamming=hamming,
                                               transform=transform, known=known,
                                               min_corr=min_corr, margin=margin)
                    seconds = time.perf_counter() - t2 + t_graph
                    label = attack if (min_corr, margin) == (0.35, 0.08) else \
                        f"{attack} (profiles ≥ {min_corr}, margin {margin})"
                    rows.append({"attack": label, "option": name, "size": size,
                                 "overlap": overlap, "seeds": seed_share, "seconds": seconds,
                                 **graph_scores(case, gm.match, gm.feature_match, floor_first,
                                                floor_pat, rest),
                                 "propagated_right": float(
                                     ((gm.propagated >= 0) & (case.p_person[np.where(
                                         gm.propagated >= 0, gm.propagated, 0)]
                                         == case.e_person)).mean())})
                    print(f"# {attack} {name} {size} {overlap:.0%}: {seconds:.1f} s "
                          f"{rows[-1]}", file=sys.stderr)
    return rows


def _linked_pairs(target: Target, stored: np.ndarray, limit: int) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """Pairs of records of one person (the bank's links; here the synthetic truth), by
    decreasing stored Dice, at most ``limit``."""
    from linkage_service.linkage.similarity import dice_of_pairs

    groups: dict[str, list[int]] = {}
    for i, key in enumerate(target.keys):
        if key in target.truth:
            groups.setdefault(target.truth[key], []).append(i)
    left, right = [], []
    for members in groups.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                left.append(members[a])
                right.append(members[b])
    la, ra = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    order = np.argsort(-dice_of_pairs(stored, la, ra), kind="stable")[:limit]
    return la[order], ra[order]


def run_diffusion(people: int, seed: int, census_seed: int, census_people: int,
                  names: list[str], *, max_pairs: int = 20000) -> list[dict]:
    """The linear-layer attack on each diffusion option: recover the layer's adjacency from
    linked pairs, mine its equality features; and the known-taps upper bound (t = 2)."""
    t0 = time.perf_counter()
    target = build_target(people=people, seed=seed, schema=load_linkage_schema("vinculo-v1"),
                          secret=SECRET)
    census = build_census(people=census_people, seed=census_seed)
    print(f"# diffusion: {len(target)} records; {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    keys = list(zip(target.sex, target.nationality, target.ubigeo_birth, strict=True))
    census_keys = list(zip(census.sex, census.nationality, census.birth_department, strict=True))
    floor_first = floor_guesses(keys, census_keys, census.first_given)
    floor_pat = floor_guesses([k[1:] for k in keys], [k[1:] for k in census_keys],
                              census.paternal)
    ff, fp = floor_first == target.first_given, floor_pat == target.paternal
    floor = (float(ff.mean()), float(fp.mean()), float((ff & fp).mean()))
    no_partition = np.array([""] * len(target))

    def mine(bits: np.ndarray, min_bits: int) -> tuple[float, float, float, float]:
        first_g, pat_g = mining_attack(
            bits, sex=target.sex, birth_year=target.birth_year_min, partitions=no_partition,
            census_sex=census.sex, census_first=census.first_given,
            census_paternal=census.paternal, min_bits=min_bits)
        s_first = score(first_g, target.first_given, floor_first)
        s_pat = score(pat_g, target.paternal, floor_pat)
        return (s_first.share, s_pat.share, float((s_first.correct & s_pat.correct).mean()),
                s_first.precision)

    rows = []
    for name in names:
        t1 = time.perf_counter()
        schema = option_schema(name)
        steps = option_steps(schema)
        where = [i for i, st in enumerate(steps) if st["type"] == "diffusion"]
        if not where:
            continue
        step = steps[where[-1]]
        stored = harden(target, schema, SECRET)
        key = Hardener(schema, secret=SECRET)._keys[where[-1]]  # the scorer's knowledge only
        taps = diffusion_taps(key, input_bits=target.clks.shape[1] * 8,
                              output_bits=step["output_bits"], t=step["t"])
        left, right = _linked_pairs(target, stored, max_pairs)
        j, k = coflip_adjacency(stored, left, right)
        precision, recall = adjacency_quality(j, k, taps)
        print(f"# {name}: {len(left)} linked pairs, {len(j)} adjacent pairs (precision "
              f"{precision:.3f}, recall {recall:.3f}); {time.perf_counter() - t1:.1f} s",
              file=sys.stderr)
        row = {"option": name, "people": people, "records": len(target), "t": step["t"],
               "pairs": len(left), "adjacent": len(j), "adj_precision": precision,
               "adj_recall": recall, "floor": floor}
        row["equality"] = mine(equality_features(stored, j, k), 25) if len(j) else None
        row["undone"] = mine(undo_known_taps(stored, taps, target.clks.shape[1] * 8), 80) \
            if step["t"] == 2 else None
        row["seconds"] = time.perf_counter() - t1
        rows.append(row)
        print(f"# diffusion {name}: {row}", file=sys.stderr)
    return rows


def diffusion_table(rows: list[dict]) -> str:
    def names(v: tuple | None, floor: tuple) -> str:
        if v is None:
            return "not run (t ≠ 2) | | "
        return (f"{_pct(v[0])} ({_pct(floor[0])}) | {_pct(v[1])} ({_pct(floor[1])}) | "
                f"{_pct(v[2])} ({_pct(floor[2])})")

    lines = [
        "| schema | t | records | linked pairs | adjacency found (precision, recall) | "
        "equality mining: first | paternal | both | known taps, undone: first | paternal | "
        "both | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['option']} | {r['t']} | {r['records']} | {r['pairs']} | {r['adjacent']} "
            f"({_pct(r['adj_precision'])}, {_pct(r['adj_recall'])}) | "
            f"{names(r['equality'], r['floor'])} | {names(r['undone'], r['floor'])} | "
            f"{r['seconds']:.0f} |")
    return "\n".join(lines)


def graph_scores(case, match: np.ndarray, feature_match: np.ndarray, floor_first: np.ndarray,
                 floor_pat: np.ndarray, rest: np.ndarray) -> dict:
    """Shares of the bank's RETA records whose names the match re-identifies (the matched
    plaintext's names where there is a match, the floor's guess elsewhere), of records tied to
    the right person, and of SISTRA/care records tied through the bank's links; all over the
    ``rest`` records (those the attacker did not know beforehand)."""
    keep = np.flatnonzero(rest)
    match, feature_match = match[keep], feature_match[keep]
    floor_first, floor_pat = floor_first[keep], floor_pat[keep]
    case = copy.copy(case)
    case.e_first, case.e_paternal = case.e_first[keep], case.e_paternal[keep]
    case.e_person = case.e_person[keep]
    guessed = match >= 0
    safe = np.where(guessed, match, 0)
    first = np.where(guessed, case.p_first[safe], floor_first)
    pat = np.where(guessed, case.p_paternal[safe], floor_pat)
    ok_first, ok_pat = first == case.e_first, pat == case.e_paternal
    right = guessed & (case.p_person[safe] == case.e_person)
    f_right = case.p_person[np.where(feature_match >= 0, feature_match, 0)] == case.e_person
    identified = set(case.e_person[right].tolist())
    eligible = set(case.e_person.tolist())
    others = [p for p in case.other_person.tolist() if p in eligible]
    tied = float(np.mean([p in identified for p in others])) if others else math.nan
    ff, fp = floor_first == case.e_first, floor_pat == case.e_paternal
    return {"first": float(ok_first.mean()), "paternal": float(ok_pat.mean()),
            "both": float((ok_first & ok_pat).mean()), "guessed": float(guessed.mean()),
            "right": float(right.mean()),
            "precision": float(right[guessed].mean()) if guessed.any() else math.nan,
            "feature_right": float((f_right & (feature_match >= 0)).mean()),
            "tied": tied, "floor_first": float(ff.mean()), "floor_paternal": float(fp.mean()),
            "floor_both": float((ff & fp).mean())}


def _pct(x: float) -> str:
    return "—" if isinstance(x, float) and math.isnan(x) else f"{100 * x:.1f}%"


def table(rows: list[dict], *, people: int, seed: int, census_seed: int) -> str:
    base = next((r for r in rows if r["option"] == "v1"), rows[0])
    floor = rows[0]["floor"]
    lines = [
        f"People {people}, seed {seed}, census seed {census_seed}; records "
        f"re-identified = attack guess where it has one, else the floor's guess.",
        "",
        f"Floor (names alone, by sex, nationality, department of birth): first given name "
        f"{_pct(floor['first'])}, paternal surname {_pct(floor['paternal'])}, both "
        f"{_pct(floor['both'])}.",
        "",
        "| option | stored bits | first given name | paternal surname | both | confident "
        "first (precision) | confident surname (precision) | frequency attack, both | "
        "Dice calibration | core precision | core recall | core F1 | Δ core F1 | "
        "Dice-only F1 (threshold) | Δ Dice-only F1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['option']} | {r['bits']} | {_pct(r['first'])} | {_pct(r['paternal'])} | "
            f"{_pct(r['both'])} | {_pct(r['conf_first'])} ({_pct(r['prec_first'])}) | "
            f"{_pct(r['conf_pat'])} ({_pct(r['prec_pat'])}) | {_pct(r['freq_both'])} | "
            f"{r['calibration']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
            f"{r['f1'] - base['f1']:+.3f} | {r['dice_f1']:.3f} ({r['dice_threshold']}) | "
            f"{r['dice_f1'] - base['dice_f1']:+.3f} |")
    return "\n".join(lines)


def graph_table(rows: list[dict]) -> str:
    """One line per attack × option × size × overlap, with the floor beside each share."""
    lines = [
        "| attack | schema | RETA records | overlap | known pairs | first given name (floor) | "
        "paternal "
        "surname (floor) | both (floor) | guessed (precision) | feature stage right | "
        "SISTRA/care tied to a RETA identity | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['attack']} | {r['option']} | {r['size']} | {r['overlap']:.0%} | "
            f"{r['seeds']:.0%} | "
            f"{_pct(r['first'])} ({_pct(r['floor_first'])}) | {_pct(r['paternal'])} "
            f"({_pct(r['floor_paternal'])}) | {_pct(r['both'])} ({_pct(r['floor_both'])}) | "
            f"{_pct(r['guessed'])} ({_pct(r['precision'])}) | {_pct(r['feature_right'])} | "
            f"{_pct(r['tied'])} | {r['seconds']:.0f} |")
    return "\n".join(lines)


# The clear-attribute join: what the insider reads, as ``measure_join`` views.
JOIN_VIEWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the bank opened with the custody key (exact attributes)", ("exact",)),
    ("the database without the custody key", ("database",)),
    ("`GET /persons/{P}` for every pseudonym", ("persons",)),
    ("the whole review queue", ("review",)),
    ("database + persons + review", ("database", "persons", "review")),
    ("database + persons + review + RETA's keys", ("database", "persons", "review", "keys")),
)


def run_join(people: int, seed: int, *, work: Path | None = None) -> list[dict]:
    """``vinculo synth`` registries through the real path (encode → upload → link under the
    default schema, as ``vinculo evaluate``), then RETA's export joined with each view of
    ``JOIN_VIEWS`` (``vinculo_lab.attacks.join.measure_join``)."""
    import tempfile

    from vinculo_lab.attacks.join import measure_join
    from vinculo_lab.evaluation.run import run_pipeline
    from vinculo_lab.synth import generate, profile, write_dataset

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vinculo-join-") as tmp:
        root = Path(work) if work is not None else Path(tmp)
        write_dataset(generate(people=people, seed=seed, config=profile("default")),
                      root / "data")
        run_pipeline(data_dir=root / "data", work_dir=root / "run", echo=None)
        print(f"# join: {people} people, seed {seed}: real path "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        rows = []
        for label, views in JOIN_VIEWS:
            measure = measure_join(work_dir=root / "run", views=views)
            rows.append({"label": label, "people": people, "seed": seed,
                         "schema": DEFAULT_SCHEMA_ID, **measure.as_dict()})
    return rows


def join_table(rows: list[dict]) -> str:
    """One line per view: RETA's records re-identified by the join, and the SISTRA and care
    records tied to a RETA identity through the bank's memberships."""
    def tied(r: dict, source: str) -> str:
        t = r["tied"].get(source)
        return f"{_pct(t['share'])} ({t['tied']} / {t['records']})" if t else "—"

    lines = [
        "| what the insider reads | RETA records in the bank | re-identified | unique in the "
        "first round | wrong pairs | SISTRA tied | care tied |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['reta_records']} | {_pct(r['reidentified_share'])} "
            f"({r['reidentified']}) | {r['unique_first_round']} | {r['wrong_pairs']} | "
            f"{tied(r, 'sistra')} | {tied(r, 'care')} |")
    return "\n".join(lines)


def calibrate(name: str, *, people: int, seed: int, posterior: bool = False) -> int:
    """Print, as JSON, the knots fitted for option ``name`` (or several, comma-separated: one
    line each) on the generator's people; ``posterior``: the stored → CLK regression
    (``attack_data.fit_posterior_calibration``) instead of the median stored Dice of each CLK
    Dice."""
    names = [n for n in name.split(",") if n]
    unknown = [n for n in names if n not in OPTIONS and n not in SCHEMA_OPTIONS]
    if unknown:
        raise SystemExit(f"unknown option {', '.join(unknown)}")
    target = build_target(people=people, seed=seed, schema=load_linkage_schema("vinculo-v1"),
                          secret=SECRET)
    for one in names:
        fit = fit_posterior_calibration if posterior else fit_dice_calibration
        knots = fit(target.clks, harden(target, option_schema(one), SECRET))
        print(json.dumps({"dice_calibration": knots}) if len(names) == 1 else
              json.dumps({"option": one, "dice_calibration": knots}))
        print(f"# {one}: {len(target)} records of {people} people, seed {seed}",
              file=sys.stderr)
    return 0


# The runs behind docs/security-results.md (``--results`` regenerates the whole file).
RESULTS_RUNS: tuple[dict, ...] = (
    {"people": 3000, "seed": 11, "census_seed": 12,
     "options": ["v1", "xor_fold", "balance", "blip_f0.02", "blip_f0.05", "salt_birth_year",
                 "salt_year_decade_sex", "diffusion_t1", "diffusion_t2", "diffusion_t3",
                 "diffusion_t3_2048", "blip_f0.02+diffusion_t2", "vinculo-v2", "vinculo-v4"]},
    {"people": 6000, "seed": 21, "census_seed": 22,
     "options": ["v1", "xor_fold", "diffusion_t2", "blip_f0.02+diffusion_t2", "vinculo-v2",
                 "vinculo-v4"]},
    {"people": 3000, "seed": 11, "census_seed": 12, "options": ["v1", "vinculo-v4", "vinculo-v5"]},
)
RESULTS_HEADER = """# Insider attack results (generated by benchmarks/attack.py)

Regenerate: `.venv/bin/python benchmarks/attack.py --results` (default schema: {default}); one
section only: `--results --only graph` (sections: mining, graph, diffusion, join; the others are
kept). Threat model, attacks and the real-path F1 of each schema: `docs/security.md`."""
MINING_HEADER = """## Frequency and pattern mining (the census is the attacker's only plaintext)

Columns: re-identified = the attack's guess where it has one, the floor's elsewhere; confident
guesses and their precision; the frequency attack on identical encodings; the Dice calibration
the linkage core used (declared by the schema, fitted on the spot for a bare option, none for
plain CLKs); the core (`linkage_service.linkage.link` with sex, birth years, nationality, event
date and document hash only: no UBIGEOs, no family sections) on the stored bits; and the best
F1 of Dice ≥ threshold + connected components (threshold swept 0.60–0.95 on stored Dice)."""
GRAPH_HEADER = """## Graph matching (the attacker holds RETA's plaintext and her own linkage secret)

The bank's RETA records (encoded under the institutions' secret and the schema's hardening)
against the attacker's plaintext register: `overlap` of its records are the bank's records,
the rest other people's RETA records (another generator seed); she encodes it under the same
public schema with her own secret. `graph matching`: k-NN similarity graphs (k = 15), node
features, cosine + greedy one-to-one, propagation from the best 10 %, anchor profiles
(`benchmarks/attack_graph.py`). `homomorphism graph matching` (diffusion schemas only): her
graph on her plain CLKs, Hamming distances mapped through the diffusion's expectation. Known
pairs (`--seeds`): share of the common records whose pair she knows beforehand (a residual
clear-attribute join, cases she knows); they start the anchor profiles, and every share below
is over the other records. Rows marked "(profiles ≥ 0.2, margin 0.04)": a bolder attacker, who
accepts an anchor-profile match at correlation 0.2 and a margin of 0.04 over the record's
second best (`--min-corr`, `--margin`; defaults 0.35 and 0.08).
Shares of the bank's RETA records: names = the matched plaintext's where the attack guesses,
the floor's (names alone) elsewhere, floor in brackets; guessed = records the attack names,
with the share of those matched to the right person; feature stage right = the first stage's
one-to-one assignment alone; SISTRA/care tied = share of the bank's SISTRA and care records
whose person's RETA record was matched to the right person (through the bank's links, taken
as the synthetic truth: an upper bound of the core's recall); wall s = graphs and matching on
the 2-core development machine, data building excluded."""
DIFFUSION_HEADER = """## The linear diffusion layer (structure recovery, undo, mine)

Each stored bit of a diffusion schema is the XOR of t CLK bits. `adjacency`: from the XOR of
the stored encodings of linked pairs (the bank's links; here the synthetic truth, pairs by
decreasing stored Dice), output bits that flip together share an input bit; precision and
recall of the recovered output-bit adjacency against the real taps. `equality mining`: the
pattern-mining attack on the recovered adjacency's equality features (1 − y_j ⊕ y_k =
[x_v = x_w]). `known taps, undone`: an upper bound: the real taps given to the attacker, the
layer inverted on each connected component of the tap graph (x up to a complement per
component, resolved by weight) and the mining attack run on what is left, as on plain CLKs.
Names: attack guess where it has one, the floor's elsewhere (floor in brackets)."""


JOIN_HEADER = """## The clear-attribute join (the attacker holds RETA's plaintext export)

RETA's export, standardized with the public SDK (the content attributes RETA uploads), joined
with what the insider reads of a bank built by the real path (`vinculo synth`, then encode →
upload → link under the default schema, as `vinculo evaluate`;
`vinculo_lab/attacks/join.py`, `measure_join`). A RETA record is re-identified when the join
pairs it, alone, with its own bank record (unique in either direction, repeated until nothing
changes; the attacker is granted which record each release belongs to); unique in the first
round = export records with exactly one consistent bank record, their own. Tied: SISTRA and
care records of the bank whose person has a re-identified RETA record (through the
memberships, readable without the key). The first line is the bank opened with the custody
key (every record's exact attributes, as linkage uses them): what custody protects; the others
are what an operator, reviewer or analyst reads without it; RETA's keys: she also computes
each of her records' references and opens every locator she finds."""


# Graph matching runs (``--graph``): sizes in RETA records of the bank, each against the
# attacker's plaintext at every overlap; the other people's records come from ``other_seed``.
GRAPH_RUNS: tuple[dict, ...] = (
    {"size": 2000, "seed": 31, "other_seed": 32, "census_seed": 12,
     "options": ["v1", "vinculo-v4", "diffusion_t3"], "overlaps": [1.0, 0.5, 0.1],
     "seeds": [0.0, 0.01, 0.1], "attacks": ["graph", "homomorphism"]},
    {"size": 2000, "seed": 31, "other_seed": 32, "census_seed": 12,
     "options": ["blip_f0.02+diffusion_t2", "diffusion_t3"], "overlaps": [1.0],
     "seeds": [0.1, 0.5], "attacks": ["graph", "homomorphism"]},
    {"size": 10000, "seed": 33, "other_seed": 34, "census_seed": 12,
     "options": ["v1", "vinculo-v4"], "overlaps": [1.0, 0.5, 0.1], "seeds": [0.0],
     "attacks": ["graph", "homomorphism"]},
    {"size": 10000, "seed": 33, "other_seed": 34, "census_seed": 12,
     "options": ["vinculo-v4"], "overlaps": [1.0, 0.5], "seeds": [0.01, 0.1],
     "attacks": ["homomorphism"]},
    {"size": 20000, "seed": 35, "other_seed": 36, "census_seed": 12,
     "options": ["vinculo-v4"], "overlaps": [1.0], "seeds": [0.01],
     "attacks": ["homomorphism"]},
    {"size": 20000, "seed": 35, "other_seed": 36, "census_seed": 12,
     "options": ["vinculo-v4"], "overlaps": [1.0], "seeds": [0.0],
     "attacks": ["homomorphism"]},
    # Issue 16, point 3: a schema that holds (docs/security.md, "vinculo-v5").
    {"size": 2000, "seed": 31, "other_seed": 32, "census_seed": 12,
     "options": ["diffusion_t3_2048", "diffusion_t4", "diffusion_t4_2048"], "overlaps": [1.0],
     "seeds": [0.1], "attacks": ["graph", "homomorphism"]},
    {"size": 10000, "seed": 33, "other_seed": 34, "census_seed": 12,
     "options": ["vinculo-v4", "diffusion_t3", "diffusion_t3_2048", "diffusion_t4",
                 "diffusion_t4_2048"], "overlaps": [1.0], "seeds": [0.01, 0.1],
     "attacks": ["graph", "homomorphism"]},
    {"size": 10000, "seed": 33, "other_seed": 34, "census_seed": 12,
     "options": ["diffusion_t3_2048", "diffusion_t3", "diffusion_t4", "diffusion_t4_2048"],
     "overlaps": [1.0], "seeds": [0.01, 0.1], "attacks": ["homomorphism"], "min_corr": 0.2,
     "margin": 0.04},
    {"size": 10000, "seed": 33, "other_seed": 34, "census_seed": 12,
     "options": ["vinculo-v5"], "overlaps": [1.0], "seeds": [0.01, 0.1],
     "attacks": ["graph", "homomorphism"]},
    {"size": 10000, "seed": 33, "other_seed": 34, "census_seed": 12,
     "options": ["vinculo-v5"], "overlaps": [1.0], "seeds": [0.01, 0.1],
     "attacks": ["homomorphism"], "min_corr": 0.2, "margin": 0.04},
    {"size": 20000, "seed": 35, "other_seed": 36, "census_seed": 12,
     "options": ["vinculo-v5"], "overlaps": [1.0], "seeds": [0.01, 0.1],
     "attacks": ["homomorphism"], "min_corr": 0.2, "margin": 0.04},
)
# Diffusion-layer runs (``--diffusion``): people of the bank, schemas.
DIFFUSION_RUNS: tuple[dict, ...] = (
    {"people": 3000, "seed": 41, "census_seed": 12, "options": ["vinculo-v4", "diffusion_t3"]},
    {"people": 3000, "seed": 41, "census_seed": 12, "options": ["vinculo-v5"]},
)
# Clear-attribute join runs (``--join``): people of the synthetic registries, generator seed.
JOIN_RUNS: tuple[dict, ...] = (
    {"people": 3000, "seed": 41},
    {"people": 3000, "seed": 15},
)
SECTIONS = ("mining", "graph", "diffusion", "join")


def _graph_command(spec: dict) -> str:
    return (f".venv/bin/python benchmarks/attack.py --graph {spec['size']} --seed "
            f"{spec['seed']} --other-seed {spec['other_seed']} --census-seed "
            f"{spec['census_seed']} --options {','.join(spec['options'])} --overlaps "
            f"{','.join(str(o) for o in spec['overlaps'])} --seeds "
            f"{','.join(str(x) for x in spec['seeds'])} --attacks {','.join(spec['attacks'])}"
            + (f" --min-corr {spec['min_corr']} --margin {spec['margin']}"
               if "min_corr" in spec else ""))


def _diffusion_command(spec: dict) -> str:
    return (f".venv/bin/python benchmarks/attack.py --diffusion {spec['people']} --seed "
            f"{spec['seed']} --census-seed {spec['census_seed']} --options "
            f"{','.join(spec['options'])}")


def _join_command(spec: dict) -> str:
    return (f".venv/bin/python benchmarks/attack.py --join {spec['people']} --seed "
            f"{spec['seed']}")


def section_text(name: str, *, census_people: int,
                 join_runs: tuple[dict, ...] = JOIN_RUNS) -> str:
    """Run one section's standard runs; its markdown (between its markers)."""
    parts = []
    if name == "mining":
        parts.append(MINING_HEADER)
        for spec in RESULTS_RUNS:
            rows = run(spec["people"], spec["seed"], spec["census_seed"], census_people,
                       spec["options"])
            command = (f"`.venv/bin/python benchmarks/attack.py --people {spec['people']} "
                       f"--seed {spec['seed']} --census-seed {spec['census_seed']} --options "
                       f"{','.join(spec['options'])}`")
            parts.append(f"### {command}\n\n" + table(rows, people=spec["people"],
                                                         seed=spec["seed"],
                                                         census_seed=spec["census_seed"]))
    elif name == "graph":
        parts.append(GRAPH_HEADER)
        for spec in GRAPH_RUNS:
            rows = run_graph(spec["size"], spec["seed"], spec["other_seed"],
                             spec["census_seed"], census_people, spec["options"],
                             spec["overlaps"], seeds=tuple(spec["seeds"]),
                             attacks=tuple(spec["attacks"]),
                             min_corr=spec.get("min_corr", 0.35),
                             margin=spec.get("margin", 0.08))
            parts.append(f"### `{_graph_command(spec)}`\n\n" + graph_table(rows))
    elif name == "join":
        parts.append(JOIN_HEADER)
        for spec in join_runs:
            rows = run_join(spec["people"], spec["seed"])
            parts.append(f"### `{_join_command(spec)}`\n\n" + join_table(rows))
    else:
        parts.append(DIFFUSION_HEADER)
        for spec in DIFFUSION_RUNS:
            rows = run_diffusion(spec["people"], spec["seed"], spec["census_seed"],
                                 census_people, spec["options"])
            parts.append(f"### `{_diffusion_command(spec)}`\n\n" + diffusion_table(rows))
    return "\n\n".join(parts).rstrip("\n")


def write_results(path: Path, *, census_people: int,
                  only: tuple[str, ...] = SECTIONS,
                  join_runs: tuple[dict, ...] = JOIN_RUNS) -> str:
    """Regenerate the ``only`` sections of ``path`` (the others are kept as they are; a
    section the file lacks is run)."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    parts = [RESULTS_HEADER.format(default=DEFAULT_SCHEMA_ID)]
    for name in SECTIONS:
        begin, end = f"<!-- section {name} -->", f"<!-- end {name} -->"
        if name in only or begin not in old:
            body = section_text(name, census_people=census_people, join_runs=join_runs)
        else:
            body = old[old.index(begin) + len(begin):old.index(end)].strip("\n")
        parts.append(f"{begin}\n{body}\n{end}")
    text = "\n\n".join(parts).rstrip("\n") + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--other-seed", type=int, default=32,
                        help="--graph: generator seed of the attacker's other people")
    parser.add_argument("--census-seed", type=int, default=12)
    parser.add_argument("--census-people", type=int, default=20000)
    parser.add_argument("--options", default=None,
                        help=f"comma-separated, of: {', '.join([*OPTIONS, *SCHEMA_OPTIONS])}")
    parser.add_argument("--graph", type=int, metavar="RETA_RECORDS",
                        help="graph matching on this many RETA records of the bank")
    parser.add_argument("--overlaps", default="1,0.5,0.1",
                        help="--graph: shares of the bank's records in the attacker's plaintext")
    parser.add_argument("--seeds", default="0",
                        help="--graph: shares of the overlapping records whose pair the attacker "
                             "knows beforehand (0 = none)")
    parser.add_argument("--attacks", default="graph,homomorphism",
                        help="--graph: of graph, homomorphism (diffusion schemas only)")
    parser.add_argument("--min-corr", type=float, default=0.35,
                        help="--graph: anchor-profile correlation a match needs (bolder: lower)")
    parser.add_argument("--margin", type=float, default=0.08,
                        help="--graph: by how much it must beat the record's second best")
    parser.add_argument("--diffusion", type=int, metavar="PEOPLE",
                        help="attack on the linear diffusion layer, bank of PEOPLE people")
    parser.add_argument("--join", type=int, metavar="PEOPLE",
                        help="the clear-attribute join on a real-path bank of PEOPLE people")
    parser.add_argument("--calibrate", metavar="OPTION",
                        help="print the Dice calibration knots fitted for OPTION and exit")
    parser.add_argument("--posterior", action="store_true",
                        help="--calibrate: fit the stored → CLK regression (noisy hardenings)")
    parser.add_argument("--results", action="store_true",
                        help="run the standard runs and rewrite docs/security-results.md")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"--results: sections to regenerate, of {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    if args.calibrate:
        return calibrate(args.calibrate, people=args.people, seed=args.seed,
                         posterior=args.posterior)
    if args.results:
        only = tuple(x for x in args.only.split(",") if x)
        if set(only) - set(SECTIONS):
            parser.error(f"unknown sections {sorted(set(only) - set(SECTIONS))}")
        out = Path(__file__).resolve().parent.parent / "docs" / "security-results.md"
        print(write_results(out, census_people=args.census_people, only=only))
        return 0
    if args.join:
        print(join_table(run_join(args.join, args.seed)))
        return 0
    default = "v1,vinculo-v4" if args.graph or args.diffusion else ",".join(OPTIONS)
    names = [n for n in (args.options or default).split(",") if n]
    unknown = [n for n in names if n not in OPTIONS and n not in SCHEMA_OPTIONS]
    if unknown:
        parser.error(f"unknown options {unknown}")
    if args.graph:
        overlaps = [float(x) for x in args.overlaps.split(",") if x]
        rows = run_graph(args.graph, args.seed, args.other_seed, args.census_seed,
                         args.census_people, names, overlaps,
                         seeds=tuple(float(x) for x in args.seeds.split(",") if x),
                         attacks=tuple(x for x in args.attacks.split(",") if x),
                         min_corr=args.min_corr, margin=args.margin)
        print(graph_table(rows))
        return 0
    if args.diffusion:
        rows = run_diffusion(args.diffusion, args.seed, args.census_seed, args.census_people,
                             names)
        print(diffusion_table(rows))
        return 0
    rows = run(args.people, args.seed, args.census_seed, args.census_people, names)
    print(table(rows, people=args.people, seed=args.seed, census_seed=args.census_seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
