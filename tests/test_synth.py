"""The synthetic-registry generator: layout, truth, determinism, quirk rates, hard non-matches.

Mid-size runs (2,000 people, about 4,500 records) take well under a second; rates are checked
with a binomial tolerance, never exactly.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from vinculo_common.errors import InputError
from vinculo_lab.synth import (
    BAD_ROW_REASONS,
    PROFILES,
    QuirkRates,
    SynthResult,
    dni_check_characters,
    generate,
    profile,
    write_dataset,
)
from vinculo_lab.synth.textquirks import fold_accents

# The columns of the canonical record (docs/input.md), in its order.
SPEC_COLUMNS = [
    "record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo", "fecha_nacimiento",
    "edad", "tipo_documento", "numero_documento", "nacionalidad", "ubigeo_nacimiento",
    "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho", "forma_explotacion",
]
SOURCES = ("reta", "sistra", "care")


@pytest.fixture(scope="module")
def mid() -> SynthResult:
    return generate(people=2000, seed=11, config=profile("default"))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, mid: SynthResult) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_dataset(mid, out)
    return out


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def test_registries_have_exactly_the_canonical_columns(written: Path) -> None:
    for source in SOURCES:
        header, rows = _read(written / f"{source}.csv")
        assert header == SPEC_COLUMNS
        assert rows, source
    assert _read(written / "truth.csv")[0] == ["source", "record_id", "person_id"]
    assert _read(written / "quirks.csv")[0] == ["source", "record_id", "quirks"]


def test_truth_covers_every_record_once(written: Path) -> None:
    in_files = set()
    for source in SOURCES:
        _, rows = _read(written / f"{source}.csv")
        ids = [r["record_id"] for r in rows]
        assert len(ids) == len(set(ids)), f"duplicate record_id in {source}"
        assert all(ids)
        in_files |= {(source, i) for i in ids}
    _, truth = _read(written / "truth.csv")
    keys = [(t["source"], t["record_id"]) for t in truth]
    assert len(keys) == len(set(keys))
    assert set(keys) == in_files
    _, quirks = _read(written / "quirks.csv")
    assert {(q["source"], q["record_id"]) for q in quirks} == in_files


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = generate(people=300, seed=5, config=profile("hard"))
    b = generate(people=300, seed=5, config=profile("hard"))
    c = generate(people=300, seed=6, config=profile("hard"))
    assert a.tables == b.tables and a.truth == b.truth and a.quirks == b.quirks
    assert a.tables != c.tables


def test_size_and_overlap(mid: SynthResult) -> None:
    n_people = len(mid.people)
    assert n_people == 2000
    assert 2.1 <= len(mid.truth) / n_people <= 2.5  # held-out data: ~7,000 records / 3,000
    sources_of: dict[str, set[str]] = defaultdict(set)
    for source, _, pid in mid.truth:
        sources_of[pid].add(source)
    counts = Counter(len(s) for s in sources_of.values())
    assert counts[1] and counts[2] and counts[3]
    only_reta = sum(1 for s in sources_of.values() if s == {"reta"})
    only_care = sum(1 for s in sources_of.values() if s == {"care"})
    assert only_reta > only_care  # many stay in the police registry; fewer reach care
    per_source = Counter(s for s, _, _ in mid.truth)
    assert per_source["reta"] > per_source["care"]


def test_several_records_of_one_person_within_one_registry(mid: SynthResult) -> None:
    per = Counter((source, pid) for source, _, pid in mid.truth)
    multi = [k for k, v in per.items() if v > 1]
    assert len(multi) > 0.05 * len(mid.people)
    tags = Counter(t for _, _, q in mid.quirks for t in q.split(";") if t)
    assert tags["duplicate_entry"] > 0 and tags["revictimisation"] > 0


def test_population_mix(mid: SynthResult) -> None:
    n = len(mid.people)
    nat = Counter(p.nationality for p in mid.people)
    assert 0.15 <= nat["VEN"] / n <= 0.25
    assert nat["PER"] / n > 0.6 and nat["COL"] and nat["ECU"] and nat["BOL"]
    assert sum(p.sex == "F" for p in mid.people) / n > 0.7
    minors = sum(1 for p in mid.people if 13 <= (p.episodes[0].day - p.birth).days // 365 <= 17)
    assert minors / n > 0.25
    assert all(2012 <= e.day.year <= 2025 for p in mid.people for e in p.episodes)


def test_every_quirk_near_its_configured_rate(mid: SynthResult) -> None:
    rates = mid.config.quirks.as_dict()
    checked = 0
    for name, (applicable, applied) in mid.stats.items():
        rate = rates[name]
        assert applied > 0 or rate == 0 or applicable < 50, f"{name} never happened"
        if applicable < 150:
            continue
        observed = applied / applicable
        tol = 4 * math.sqrt(rate * (1 - rate) / applicable) + 0.006
        assert abs(observed - rate) <= tol, f"{name}: {observed:.3f} vs {rate}"
        checked += 1
    assert checked >= 30


def test_quirk_rates_seen_from_the_files(mid: SynthResult) -> None:
    """Check a few rates from what was written, not from the generator's own counters."""
    rows = {(s, r[0]): r for s, table in mid.tables.items() for r in table}
    person_of = {(s, rid): pid for s, rid, pid in mid.truth}
    people = {mid.person_ids[p.index]: p for p in mid.people}
    q = mid.config.quirks
    n = len(rows)
    age_only = sum(1 for r in rows.values() if not r[5] and r[6]) / n
    assert abs(age_only - q.birth_date_age_only) < 0.03
    with_doc = [k for k in rows if people[person_of[k]].documents]
    missing = sum(1 for k in with_doc if not rows[k][8]) / len(with_doc)
    assert abs(missing - q.document_missing) < 0.04
    sex_empty = sum(1 for r in rows.values() if not r[4]) / n
    assert abs(sex_empty - q.sex_missing) < 0.02


def test_quirks_csv_tells_the_truth(mid: SynthResult) -> None:
    rows = {(s, r[0]): r for s, table in mid.tables.items() for r in table}
    person_of = {(s, rid): pid for s, rid, pid in mid.truth}
    people = {mid.person_ids[p.index]: p for p in mid.people}
    name_quirks = {"spelling_variant", "name_typo", "ocr_error_name", "accents_dropped",
                   "enye_as_n", "enye_as_ni", "enye_mangled", "case_variation",
                   "extra_whitespace", "whole_name_in_nombres", "married_name",
                   "maternal_missing", "particle_spacing"}
    swapped = lost_zero = 0
    for source, rid, qs in mid.quirks:
        tags = set(qs.split(";"))
        row, person = rows[(source, rid)], people[person_of[(source, rid)]]
        if "surnames_swapped" in tags and not tags & name_quirks:
            assert row[2] == person.maternal and row[3] == person.paternal
            swapped += 1
        if "dni_lost_leading_zero" in tags and tags == {"dni_lost_leading_zero"}:
            assert row[8] == person.documents[0][1].lstrip("0")
            lost_zero += 1
        if not qs:
            assert row[1] == " ".join(person.given)
            assert (row[2], row[3]) == (person.paternal, person.maternal)
    assert swapped > 10 and lost_zero > 5


def test_hard_non_matches_exist(mid: SynthResult) -> None:
    by_index = {p.index: p for p in mid.people}
    kinds = Counter(p.relation for p in mid.people if p.relation)
    assert {"twin", "sister", "namesake", "mother"} <= set(kinds)
    for p in mid.people:
        base = by_index.get(p.related_to)
        if base is None:
            continue
        assert p.index != base.index
        if p.relation == "twin":
            assert (p.paternal, p.maternal, p.birth) == (base.paternal, base.maternal, base.birth)
            assert p.given != base.given
        elif p.relation == "sister":
            assert (p.paternal, p.maternal) == (base.paternal, base.maternal)
            assert p.birth != base.birth and p.given[0] != base.given[0]
        elif p.relation == "namesake":
            assert (p.given, p.paternal, p.maternal) == (base.given, base.paternal, base.maternal)
        elif p.relation == "mother":
            assert p.given[0] == base.given[0]
            assert (base.birth - p.birth).days > 16 * 365
    # Namesakes with the very commonest names happen on their own too.
    full_names = Counter((p.given[0], p.paternal, p.maternal) for p in mid.people)
    assert full_names.most_common(1)[0][1] >= 2
    assert len(mid.relations()) == sum(kinds.values())


def test_clean_profile_has_no_quirks() -> None:
    result = generate(people=300, seed=2, config=profile("clean"))
    tags = {t for _, _, q in result.quirks for t in q.split(";") if t}
    assert tags <= {"duplicate_entry", "revictimisation"}


def test_hard_profile_is_harder() -> None:
    d, h = PROFILES["default"].quirks, PROFILES["hard"].quirks
    # Every rate at least as high, except 50/50 quirks (past 0.5 records would agree again).
    assert all(getattr(h, k) >= min(v, 0.5) for k, v in d.as_dict().items())
    assert sum(h.as_dict().values()) > 1.3 * sum(d.as_dict().values())
    assert PROFILES["hard"].population.twins > PROFILES["default"].population.twins
    alt = PROFILES["alt"]
    assert alt.quirks.name_typo < d.name_typo and alt.quirks.document_missing > d.document_missing


def test_bad_rows_are_listed_and_absent_from_truth(tmp_path: Path) -> None:
    config = replace(profile("default"), bad_rows=0.05)
    result = generate(people=400, seed=3, config=config)
    write_dataset(result, tmp_path)
    _, bad = _read(tmp_path / "bad_rows.csv")
    assert {b["reason"] for b in bad} == set(BAD_ROW_REASONS)
    truth = {(t["source"], t["record_id"]) for t in _read(tmp_path / "truth.csv")[1]}
    for source in SOURCES:
        _, rows = _read(tmp_path / f"{source}.csv")
        ids = Counter(r["record_id"] for r in rows)
        for b in (b for b in bad if b["source"] == source):
            row = rows[int(b["row"]) - 2]
            if b["reason"] == "empty_record_id":
                assert row["record_id"] == ""
            elif b["reason"] == "duplicate_record_id":
                assert ids[row["record_id"]] == 2
                first = next(i for i, r in enumerate(rows) if r["record_id"] == row["record_id"])
                assert first + 2 < int(b["row"])
            elif b["reason"] == "no_name":
                assert not (row["nombres"] or row["apellido_paterno"] or row["apellido_materno"])
            elif b["reason"] == "bad_ubigeo":
                assert row[b["column"]] in {"990101", "15013", "1501X1", "000000", "2601",
                                            "1234567"}
        good = len(rows) - sum(1 for b in bad if b["source"] == source)
        assert good == sum(1 for s, _ in truth if s == source)
    clean = generate(people=100, seed=3, config=profile("default"))
    assert clean.bad_rows == []


def test_dni_check_character_matches_reniec() -> None:
    assert dni_check_characters("10117410") == "2G"  # python-stdnum's documented example
    result = generate(people=1500, seed=4, config=profile("hard"))
    people = {result.person_ids[p.index]: p for p in result.people}
    person_of = {(s, rid): pid for s, rid, pid in result.truth}
    rows = {(s, r[0]): r for s, t in result.tables.items() for r in t}
    seen = 0
    for source, rid, qs in result.quirks:
        if qs.split(";") == ["dni_check_character"]:
            number = rows[(source, rid)][8].replace("-", "")
            true = people[person_of[(source, rid)]].documents[0][1]
            assert number[:8] == true and number[8] in dni_check_characters(true)
            seen += 1
    assert seen > 0


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(InputError):
        profile("imposible")
    with pytest.raises(InputError):
        QuirkRates(name_typo=1.5)
    with pytest.raises(InputError):
        QuirkRates(birth_date_age_only=0.7, birth_date_year_only=0.5)
    with pytest.raises(InputError):
        generate(people=0, seed=1, config=profile("default"))
    with pytest.raises(InputError):
        replace(profile("default"), bad_rows=0.9)


def test_enye_and_accents_appear_in_both_forms(mid: SynthResult) -> None:
    surnames = [r[2] for t in mid.tables.values() for r in t]
    assert any("Ñ" in s for s in surnames) and any("MUNOZ" in s or "PENA" in s for s in surnames)
    assert any("Á" in s or "É" in s for s in surnames)
    plain = {fold_accents(s) for s in surnames}
    assert "RAMIREZ" in plain or "SANCHEZ" in plain


def test_cli_writes_the_files(tmp_path: Path) -> None:
    from vinculo_cli.main import main

    out = tmp_path / "datos"
    assert main(["synth", "--out", str(out), "--people", "60", "--seed", "9"]) == 0
    assert {p.name for p in out.iterdir()} >= {"reta.csv", "sistra.csv", "care.csv",
                                               "truth.csv", "quirks.csv", "README.txt"}
    assert "configured" in (out / "README.txt").read_text(encoding="utf-8")
    assert main(["synth", "--out", str(out), "--profile", "nada"]) != 0


def test_documentation_covers_every_quirk_profile_and_option() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "synthetic-data.md").read_text(
        encoding="utf-8")
    for name in QuirkRates().as_dict():
        assert f"`{name}`" in doc, name
    for name in PROFILES:
        assert f"`{name}`" in doc, name
    for option in ("--out", "--people", "--seed", "--profile", "--bad-rows"):
        assert option in doc, option
    for reason in BAD_ROW_REASONS:
        assert f"`{reason}`" in doc, reason


# --- the registry that is not Peruvian (profiles "foreign" and "foreign-1to1") ---

@pytest.fixture(scope="module")
def foreign() -> SynthResult:
    return generate(people=2000, seed=11, config=profile("foreign"))


def test_adding_profiles_changed_no_byte_of_the_others() -> None:
    import hashlib

    result = generate(people=1500, seed=3, config=profile("default"))
    digest = hashlib.sha256(repr((result.tables, result.truth, result.quirks)).encode())
    assert digest.hexdigest()[:16] == "018583ce0ea0cb10"  # as before issue 13


def test_foreign_registry_has_none_of_the_peruvian_fields(
    foreign: SynthResult, tmp_path: Path
) -> None:
    write_dataset(foreign, tmp_path)
    kept = [c for c in SPEC_COLUMNS if c not in foreign.config.omit_columns]
    assert kept == ["record_id", "nombres", "apellido_paterno", "fecha_nacimiento",
                    "numero_documento"]
    for source in SOURCES:
        header, rows = _read(tmp_path / f"{source}.csv")
        assert header == kept and rows
    assert "apellido_materno" in (tmp_path / "README.txt").read_text(encoding="utf-8")
    people = foreign.people
    assert all(not p.maternal and not p.birth_place and p.nationality == "EXT" for p in people)
    assert {"SMITH", "NGUYEN"} <= {p.paternal for p in people}
    assert not {"QUISPE", "GONZÁLEZ"} & {p.paternal for p in people}
    years = [p.birth.year for p in people if not p.relation]
    assert min(years) <= 1905 and max(years) >= 2005
    docs = [p.documents for p in people]
    assert 0.85 <= sum(1 for d in docs if d) / len(docs) <= 0.95
    assert all(t == "OTRO" and len(n) == 9 and n.isdigit() for d in docs for t, n in d)


def test_foreign_quirks_near_their_rates_and_dates_impossible(foreign: SynthResult) -> None:
    rates = foreign.config.quirks.as_dict()
    for name, (applicable, applied) in foreign.stats.items():
        if applicable < 150:
            continue
        rate, observed = rates[name], applied / applicable
        tol = 4 * math.sqrt(rate * (1 - rate) / applicable) + 0.006
        assert abs(observed - rate) <= tol, f"{name}: {observed:.3f} vs {rate}"
    assert foreign.stats["date_impossible"][1] > 50
    impossible = sum(1 for _, _, q in foreign.quirks if "date_impossible" in q.split(";"))
    rows = [r for t in foreign.tables.values() for r in t]
    bad = 0
    for row in rows:
        text = row[5]
        parts = text.split("/") if "/" in text else text.split("-")[::-1]
        if len(parts) == 3:
            day, month = int(parts[0]), int(parts[1])
            bad += not (1 <= month <= 12 and 1 <= day <= 31) or (month in (4, 6, 9, 11)
                                                                 and day == 31)
    assert impossible > 0 and bad >= 0.8 * impossible
    assert all(not r[3] and not r[4] and not r[9] and not r[12] for r in rows)


def test_foreign_one_to_one_has_nobody_twice_in_a_registry() -> None:
    result = generate(people=800, seed=4, config=profile("foreign-1to1"))
    per = Counter((source, pid) for source, _, pid in result.truth)
    assert max(per.values()) == 1
    assert result.config.omit_columns == profile("foreign").omit_columns
