"""The insider attack benchmark: what the linkage service's operator can learn from encodings.

    .venv/bin/python benchmarks/attack.py --results   # rewrites docs/security-results.md
    .venv/bin/python benchmarks/attack.py --people 6000 --seed 21 --census-seed 22 \\
        --options v1,default
    .venv/bin/python benchmarks/attack.py --calibrate vinculo-v4   # knots for the schema file

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
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.attack_data import (
    Target,
    build_census,
    build_target,
    dice_only_f1,
    fit_dice_calibration,
    harden,
    linkage_f1,
)
from benchmarks.attack_methods import (
    floor_guesses,
    frequency_attack,
    mining_attack,
    score,
)
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
    "blip_f0.02+diffusion_t2": [{"type": "blip", "f": 0.02},
                                {"type": "diffusion", "t": 2, "output_bits": 1024}],
    "diffusion_t1": [{"type": "diffusion", "t": 1, "output_bits": 1024}],
}
SCHEMA_OPTIONS = ("default", *sorted(set(known_fingerprints().values())))
SECRET = b"benchmark linkage secret, synthetic only"


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


def calibrate(name: str, *, people: int, seed: int) -> int:
    """Print, as JSON, the knots fitted for option ``name`` on the generator's people."""
    if name not in OPTIONS and name not in SCHEMA_OPTIONS:
        raise SystemExit(f"unknown option {name}")
    target = build_target(people=people, seed=seed, schema=load_linkage_schema("vinculo-v1"),
                          secret=SECRET)
    knots = fit_dice_calibration(target.clks, harden(target, option_schema(name), SECRET))
    print(json.dumps({"dice_calibration": knots}))
    print(f"# {name}: {len(target)} records of {people} people, seed {seed}", file=sys.stderr)
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
)
RESULTS_HEADER = """# Insider attack results (generated by benchmarks/attack.py)

Regenerate: `.venv/bin/python benchmarks/attack.py --results` (default schema: {default}).
Threat model, attacks and the real-path F1 of each schema: `docs/security.md`.

Columns: re-identified = the attack's guess where it has one, the floor's elsewhere; confident
guesses and their precision; the frequency attack on identical encodings; the Dice calibration
the linkage core used (declared by the schema, fitted on the spot for a bare option, none for
plain CLKs); the core (`linkage_service.linkage.link` with sex, birth years, nationality, event
date and document hash only: no UBIGEOs, no family sections) on the stored bits; and the best
F1 of Dice ≥ threshold + connected components (threshold swept 0.60–0.95 on stored Dice).
"""


def write_results(path: Path, *, census_people: int) -> str:
    """Run ``RESULTS_RUNS`` and write them, with the header, to ``path``; return the text."""
    parts = [RESULTS_HEADER.format(default=DEFAULT_SCHEMA_ID)]
    for spec in RESULTS_RUNS:
        rows = run(spec["people"], spec["seed"], spec["census_seed"], census_people,
                   spec["options"])
        command = (f"`.venv/bin/python benchmarks/attack.py --people {spec['people']} --seed "
                   f"{spec['seed']} --census-seed {spec['census_seed']} --options "
                   f"{','.join(spec['options'])}`")
        parts.append(f"## {command}\n\n" + table(rows, people=spec["people"],
                                                    seed=spec["seed"],
                                                    census_seed=spec["census_seed"]))
    text = "\n\n".join(parts).rstrip("\n") + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--census-seed", type=int, default=12)
    parser.add_argument("--census-people", type=int, default=20000)
    parser.add_argument("--options", default=",".join(OPTIONS),
                        help=f"comma-separated, of: {', '.join([*OPTIONS, *SCHEMA_OPTIONS])}")
    parser.add_argument("--calibrate", metavar="OPTION",
                        help="print the Dice calibration knots fitted for OPTION and exit")
    parser.add_argument("--results", action="store_true",
                        help="run the standard runs and rewrite docs/security-results.md")
    args = parser.parse_args(argv)
    if args.calibrate:
        return calibrate(args.calibrate, people=args.people, seed=args.seed)
    if args.results:
        out = Path(__file__).resolve().parent.parent / "docs" / "security-results.md"
        print(write_results(out, census_people=args.census_people))
        return 0
    names = [n for n in args.options.split(",") if n]
    unknown = [n for n in names if n not in OPTIONS and n not in SCHEMA_OPTIONS]
    if unknown:
        parser.error(f"unknown options {unknown}")
    rows = run(args.people, args.seed, args.census_seed, args.census_people, names)
    print(table(rows, people=args.people, seed=args.seed, census_seed=args.census_seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
