"""A registry that is not Peruvian and not ours: two files in a FEBRL-like layout (given name,
surname, YYYYMMDD birth date, a 7-digit id, address columns we ignore), mapped with a mapping
file, encoded by the real SDK and linked by the core under the default schema.

In such data a birth date is often replaced outright in the second file while the id and the
names stay: the pairs that the equal document must carry over the far birth year. Before
``scoring.document_equal_u`` the far-apart candidates (half of them such pairs) set u(equal
document) so high that a shared id weighed less than a far birth year took away.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from benchmarks.peer_febrl import MAPPING
from client_sdk.encode_export import encode_file
from linkage_service.linkage import LinkParams, link
from vinculo_common.schemas import DEFAULT_SCHEMA_ID, dice_calibration_of
from vinculo_lab.evaluation.report import load_encoded_bank
from vinculo_lab.synth import generate, profile

pytestmark = pytest.mark.slow

HEADER = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
          "postcode", "state", "date_of_birth", "soc_sec_id"]
PEOPLE = 2500


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)


def _mapping(path: Path, source: str) -> Path:
    """The FEBRL mapping of benchmarks/peer_febrl.py, for ``source``."""
    path.write_text(json.dumps({**MAPPING, "source": source}), encoding="utf-8")
    return path


def test_a_shared_id_links_pairs_whose_birth_date_was_replaced(
    tmp_path: Path, keys_dir: Path,
) -> None:
    people = generate(people=PEOPLE, seed=61, config=profile("clean")).people
    rng = random.Random(61)
    a_rows, b_rows, replaced = [], [], set()
    for person in people:
        ident = f"{1000000 + person.index * 37 % 8999999:07d}"
        given, surname = person.given[0].lower(), person.paternal.lower()
        born = person.birth.strftime("%Y%m%d")
        address = [str(rng.randrange(1, 99)), "calle falsa", "", "centro", "2000", "nsw"]
        a_rows.append([f"rec-{person.index}-org", given, surname, *address, born, ident])
        kind = rng.random()
        b_given, b_surname, b_born = given, surname, born
        if kind < 0.25:  # the birth date replaced by another, decades away
            other = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 70 * 365))
            if abs(other.year - person.birth.year) > 5:
                b_born = other.strftime("%Y%m%d")
                replaced.add(person.index)
        elif kind < 0.45:
            b_surname = _typo(rng, surname)
        elif kind < 0.55:
            b_given = _typo(rng, given)
        b_rows.append([f"rec-{person.index}-dup-0", b_given, b_surname, *address, b_born, ident])
    rng.shuffle(b_rows)
    _write(tmp_path / "a.csv", a_rows)
    _write(tmp_path / "b.csv", b_rows)
    batches = {}
    for source, name in (("reta", "a"), ("sistra", "b")):
        batches[source] = tmp_path / f"{source}.vnb"
        encode_file(source=source, input_path=tmp_path / f"{name}.csv", keys_dir=keys_dir,
                    output=batches[source],
                    mapping=_mapping(tmp_path / f"{source}.json", source))
    bank = load_encoded_bank(batches=batches, keys_dir=keys_dir)
    result = link(bank.inputs, LinkParams(dice_calibration=dice_calibration_of(DEFAULT_SCHEMA_ID)))

    label = {rid: lab for (_, rid), lab in zip(bank.keys, result.labels, strict=True)}
    person_of = {rid: int(rid.split("-")[1]) for rid in label}
    linked = {p for rid, p in person_of.items()
              if rid.endswith("-org") and label[rid] == label.get(f"rec-{p}-dup-0")}
    assert len(replaced) > 0.15 * PEOPLE
    # The pairs whose birth date was replaced link on their id and names.
    assert len(linked & replaced) / len(replaced) >= 0.95
    assert len(linked) / PEOPLE >= 0.97
    # And the shared ids do not drag strangers together (the generator's twins and namesakes
    # have other ids, the same names and often the same birth date).
    groups: dict[str, set[int]] = {}
    for rid, lab in label.items():
        groups.setdefault(str(lab), set()).add(person_of[rid])
    mixed = sum(1 for members in groups.values() if len(members) > 1)
    assert mixed <= 0.01 * PEOPLE, mixed
