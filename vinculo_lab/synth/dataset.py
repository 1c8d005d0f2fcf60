"""Generate a whole synthetic data set and write it to a folder.

Files written by :func:`write_dataset`:

- ``reta.csv``, ``sistra.csv``, ``care.csv``: the three registries in the canonical layout;
- ``truth.csv``: ``source,record_id,person_id`` for every usable record;
- ``quirks.csv``: ``source,record_id,quirks`` (``;``-joined quirk names of that record);
- ``relations.csv``: ``person_id,relation,related_person_id`` (twins, sisters, namesakes,
  mother/daughter: the hard non-matches);
- ``bad_rows.csv``: ``source,row,column,reason`` for the unusable rows added with
  ``bad_rows > 0`` (row numbers as a spreadsheet shows them, header = 1); those rows are in no
  other file;
- ``README.txt``: parameters, sizes and every quirk's configured and observed rate.
"""

from __future__ import annotations

import csv
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vinculo_common.errors import InputError
from vinculo_lab.synth.config import SynthConfig
from vinculo_lab.synth.lexicon import lexicon, places
from vinculo_lab.synth.people import Person, generate_people
from vinculo_lab.synth.registry import (
    CANONICAL_COLUMNS,
    SOURCES,
    plan_records,
    render_records,
)

__all__ = ["BAD_ROW_REASONS", "SynthResult", "describe", "generate", "write_dataset"]

BAD_ROW_REASONS = ("empty_record_id", "duplicate_record_id", "impossible_birth_date",
                   "bad_ubigeo", "no_name")
_BAD_DATES = ("2009-02-29", "30/02/2006", "31/06/2004", "2004-13-01", "31/04/2010", "0000-00-00")
_BAD_UBIGEOS = ("990101", "15013", "1501X1", "000000", "2601", "1234567")
_ID_FORMATS = {"reta": "RETA{seq:07d}", "sistra": "SIS-{year}-{seq:06d}", "care": "AT-{seq:06d}"}
_COL = {name: i for i, name in enumerate(CANONICAL_COLUMNS)}


@dataclass(slots=True)
class SynthResult:
    """A generated data set, in memory."""

    config: SynthConfig
    seed: int
    people: list[Person]
    person_ids: list[str]  # person index -> opaque person_id
    tables: dict[str, list[list[str]]]  # source -> rows in CANONICAL_COLUMNS order, file order
    truth: list[tuple[str, str, str]]  # (source, record_id, person_id)
    quirks: list[tuple[str, str, str]]  # (source, record_id, ';'-joined quirks)
    bad_rows: list[tuple[str, int, str, str]]  # (source, row, column, reason)
    stats: dict[str, list[int]]  # quirk -> [applicable, applied]
    seconds: float

    def relations(self) -> list[tuple[str, str, str]]:
        return [(self.person_ids[p.index], p.relation, self.person_ids[p.related_to])
                for p in self.people if p.relation]


def generate(*, people: int, seed: int, config: SynthConfig) -> SynthResult:
    """Generate ``people`` synthetic victims and their records in the three registries.

    Deterministic for a seed and a configuration.

    >>> from vinculo_lab.synth.config import profile
    >>> result = generate(people=30, seed=7, config=profile("default"))
    >>> sorted(result.tables)
    ['care', 'reta', 'sistra']
    """
    if not 1 <= people <= 5_000_000:
        raise InputError(f"--people debe estar entre 1 y 5000000, no {people} "
                         "(must be between 1 and 5,000,000)")
    unknown = set(config.omit_columns) - set(CANONICAL_COLUMNS)
    if unknown:
        raise InputError(f"columnas desconocidas en omit_columns: {', '.join(sorted(unknown))} "
                         "(unknown columns)")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pyr = random.Random(int(rng.integers(0, 2**63 - 1)))
    lex, geo = lexicon(), places()
    persons = generate_people(people, pop=config.population, lex=lex, geo=geo, rng=rng, pyr=pyr)
    plan = plan_records(persons, later_episode_source=config.population.later_episode_source,
                        duplicate_entry=config.population.duplicate_entry, pyr=pyr)
    rendered, stats = render_records(plan, rates=config.quirks, lex=lex, geo=geo, rng=rng,
                                     pyr=pyr)
    perm = rng.permutation(len(persons)).tolist()
    width = max(6, len(str(len(persons))))
    person_ids = [f"P{perm[i]:0{width}d}" for i in range(len(persons))]
    order = rng.permutation(len(rendered)).tolist()
    tables: dict[str, list[list[str]]] = {s: [] for s in SOURCES}
    truth: list[tuple[str, str, str]] = []
    quirks: list[tuple[str, str, str]] = []
    for i in order:
        rec = rendered[i]
        rows = tables[rec.source]
        record_id = _ID_FORMATS[rec.source].format(seq=len(rows) + 1, year=rec.event_year)
        rows.append([record_id, *rec.values])
        truth.append((rec.source, record_id, person_ids[rec.person_index]))
        quirks.append((rec.source, record_id, ";".join(rec.quirks)))
    bad = _add_bad_rows(tables, config.bad_rows, pyr) if config.bad_rows > 0 else []
    omitted = [_COL[name] for name in config.omit_columns]
    for rows in tables.values():  # what the registry does not have is not in memory either
        for row in rows:
            for i in omitted:
                row[i] = ""
    return SynthResult(config=config, seed=seed, people=persons, person_ids=person_ids,
                       tables=tables, truth=truth, quirks=quirks, bad_rows=bad, stats=stats,
                       seconds=time.perf_counter() - started)


def _add_bad_rows(tables: dict[str, list[list[str]]], rate: float,
                  pyr: random.Random) -> list[tuple[str, int, str, str]]:
    """Insert unusable rows (copies of good rows, broken one way each) at random places."""
    out: list[tuple[str, int, str, str]] = []
    for source, good in tables.items():
        if not good:
            continue
        n_bad = max(1, round(rate * len(good)))
        inserts: list[tuple[int, int, list[str], str, str]] = []  # (slot, k, row, column, why)
        for k in range(n_bad):
            reason = BAD_ROW_REASONS[k % len(BAD_ROW_REASONS)]
            pos = pyr.randrange(len(good))
            row = list(good[pos])
            slot = pyr.randrange(len(good) + 1)  # inserted before good[slot]
            if reason == "empty_record_id":
                row[0], column = "", "record_id"
            elif reason == "duplicate_record_id":
                column = "record_id"
                # The copy comes after the original, so the second occurrence is the bad one.
                slot = pyr.randrange(pos + 1, len(good) + 1)
            elif reason == "impossible_birth_date":
                row[_COL["fecha_nacimiento"]], column = pyr.choice(_BAD_DATES), "fecha_nacimiento"
            elif reason == "bad_ubigeo":
                col = pyr.choice(("ubigeo_nacimiento", "ubigeo_residencia", "ubigeo_hecho"))
                row[_COL[col]], column = pyr.choice(_BAD_UBIGEOS), col
            else:
                for col in ("nombres", "apellido_paterno", "apellido_materno"):
                    row[_COL[col]] = ""
                column = "nombres"
            inserts.append((slot, k, row, column, reason))
        inserts.sort(key=lambda t: (t[0], t[1]))
        merged: list[list[str]] = []
        j = 0
        for i in range(len(good) + 1):
            while j < len(inserts) and inserts[j][0] == i:
                _, _, row, column, reason = inserts[j]
                merged.append(row)
                out.append((source, len(merged) + 1, column, reason))
                j += 1
            if i < len(good):
                merged.append(good[i])
        tables[source] = merged
    return out


def _write_csv(path: Path, header: tuple[str, ...] | list[str], rows: object) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)  # type: ignore[arg-type]


def write_dataset(result: SynthResult, out_dir: Path) -> list[Path]:
    """Write every file of the data set into ``out_dir`` (created if needed); returns the paths.

    >>> # write_dataset(generate(people=100, seed=1, config=profile("default")), Path("out"))
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"no se puede crear la carpeta {out_dir}: {exc.strerror} "
                         "(cannot create the output folder)") from exc
    written = []
    keep = [i for i, name in enumerate(CANONICAL_COLUMNS)
            if name not in result.config.omit_columns]
    for source in SOURCES:
        path = out_dir / f"{source}.csv"
        _write_csv(path, [CANONICAL_COLUMNS[i] for i in keep],
                   ([row[i] for i in keep] for row in result.tables[source]))
        written.append(path)
    for name, header, rows in (
        ("truth.csv", ("source", "record_id", "person_id"), result.truth),
        ("quirks.csv", ("source", "record_id", "quirks"), result.quirks),
        ("relations.csv", ("person_id", "relation", "related_person_id"), result.relations()),
        ("bad_rows.csv", ("source", "row", "column", "reason"), result.bad_rows),
    ):
        _write_csv(out_dir / name, header, rows)
        written.append(out_dir / name)
    readme = out_dir / "README.txt"
    readme.write_text(describe(result), encoding="utf-8")
    written.append(readme)
    return written


def describe(result: SynthResult) -> str:
    """The README.txt of a data set: parameters, sizes, overlaps and every quirk's rates."""
    cfg = result.config
    n_people = len(result.people)
    n_records = len(result.truth)
    per_source = Counter(s for s, _, _ in result.truth)
    persons_sources: dict[str, set[str]] = {}
    per_person_source: Counter[tuple[str, str]] = Counter()
    for source, _, pid in result.truth:
        persons_sources.setdefault(pid, set()).add(source)
        per_person_source[(pid, source)] += 1
    patterns = Counter("+".join(sorted(s)) for s in persons_sources.values())
    multi = sum(1 for c in per_person_source.values() if c > 1)
    nat = Counter(p.nationality for p in result.people)
    rel = Counter(p.relation for p in result.people if p.relation)
    lines = [
        "vinculo synthetic registries (datos sintéticos: personas ficticias)",
        "",
        f"profile: {cfg.name}    seed: {result.seed}    people: {n_people}    "
        f"records: {n_records} ({n_records / max(n_people, 1):.2f} per person)",
        f"generated in {result.seconds:.1f} s",
        "",
        "records per registry: " + ", ".join(f"{s} {per_source[s]}" for s in SOURCES),
        "registries reached per person: " + ", ".join(
            f"{k} {v}" for k, v in sorted(patterns.items(), key=lambda kv: -kv[1])),
        f"(person, registry) pairs with 2+ records (re-victimisation or duplicate entry): {multi}",
        "nationality: " + ", ".join(f"{k} {v / n_people:.1%}" for k, v in nat.most_common()),
        f"female: {sum(p.sex == 'F' for p in result.people) / n_people:.1%}",
        "hard non-matches (second member of a pair): " + (", ".join(
            f"{k} {v}" for k, v in sorted(rel.items())) or "none"),
        f"bad rows (rate {cfg.bad_rows}): {len(result.bad_rows)} "
        "(listed in bad_rows.csv, absent from truth.csv and quirks.csv)",
        "columns this registry does not have (left out of the files): "
        + (", ".join(cfg.omit_columns) or "none"),
        "",
        "Quirk rates: probability per applicable record (configured), records where the quirk",
        "could happen (applicable), records that got it (applied), applied/applicable (observed).",
        "",
        f"{'quirk':32s} {'configured':>10s} {'applicable':>10s} {'applied':>9s} {'observed':>9s}",
    ]
    for name, rate in cfg.quirks.as_dict().items():
        applicable, applied = result.stats.get(name, [0, 0])
        observed = f"{applied / applicable:.3f}" if applicable else "-"
        lines.append(f"{name:32s} {rate:10.3f} {applicable:10d} {applied:9d} {observed:>9s}")
    pop = cfg.population
    lines += [
        "",
        "Population: nationality " + ", ".join(f"{k} {v}" for k, v in pop.nationality.items())
        + f"; female {pop.female_share}; twins {pop.twins}, sisters {pop.sisters}, namesakes "
        f"{pop.namesakes}, mother/daughter {pop.mother_daughter}; married {pop.married_share}; "
        f"re-victimisation {pop.revictimisation}; duplicate entry {pop.duplicate_entry}.",
        "See docs/synthetic-data.md for the model and every quirk.",
        "",
    ]
    return "\n".join(lines)
