"""Name rules: folding, Ñ repair, particles, married surnames, whole names split back."""

from __future__ import annotations

import pytest

from client_sdk.standardize.names import (
    clean_name,
    first_given_name,
    join_particles,
    normalize_particles,
    repair_enye,
    split_full_name,
    split_married,
    standardize_names,
)
from client_sdk.standardize.text import fold_name, repair_mojibake, value_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("maría josé", "MARIA JOSE"),
        ("  Rosa   ELENA ", "ROSA ELENA"),
        ("Muñoz", "MUÑOZ"),  # Ñ kept distinct from N
        ("MUÑOZ", "MUÑOZ"),
        ("Mun\u0303oz", "MUÑOZ"),  # decomposed Ñ
        ("D'Angelo-Pérez", "D ANGELO PEREZ"),
        ("Güímac", "GUIMAC"),
        ("CASTA—EDA", "CASTAÑEDA"),  # em dash standing for Ñ
        ("PEÐA", "PEÑA"),
        ("—AHUI", "ÑAHUI"),
        ("MUÃ‘OZ", "MUÑOZ"),  # UTF-8 read as Windows-1252
        ("NÃºÃ±ez", "NUÑEZ"),
        ("QUISPE 2", "QUISPE"),
        ("PE?A", "PEÑA"),  # Ñ lost to "?" between vowels
        ("MU\ufffdOZ", "MUÑOZ"),
        ("?AHUI", "ÑAHUI"),
        ("RAM?REZ", "RAMREZ"),  # an accented vowel lost: dropped, the word stays whole
        ("QUI5PE", "QUISPE"),  # scanner digits inside a word
        ("R0SA", "ROSA"),
        ("8ARRIENTOS", "BARRIENTOS"),
    ],
)
def test_fold_name(raw: str, expected: str) -> None:
    assert fold_name(raw) == expected


def test_fold_name_keeps_n_and_enye_apart() -> None:
    assert fold_name("PEÑA") != fold_name("PENA")


def test_em_dash_between_words_is_not_an_enye() -> None:
    assert fold_name("QUISPE — MAMANI") == "QUISPE MAMANI"


def test_repair_mojibake_leaves_clean_text_alone() -> None:
    assert repair_mojibake("PEÑA") == "PEÑA"
    assert repair_mojibake("ÁNGEL") == "ÁNGEL"


def test_value_key_folds_enye_and_punctuation() -> None:
    assert value_key("Niño") == "NINO"
    assert value_key("C.E.") == "CE"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MUNIOZ", "MUÑOZ"),
        ("PENIA", "PEÑA"),
        ("NUNIEZ", "NUÑEZ"),
        ("CASTANIEDA", "CASTAÑEDA"),
        ("IBANEZ", "IBAÑEZ"),  # N spelling of a name that only exists with Ñ
        ("MUNOZ", "MUÑOZ"),
        ("DANIEL", "DANIEL"),  # NI that is not an Ñ
        ("ANTONIO", "ANTONIO"),
        ("ANIBAL", "ANIBAL"),
        ("PENA", "PENA"),  # a surname in its own right
        ("QUISPE", "QUISPE"),
    ],
)
def test_repair_enye(raw: str, expected: str) -> None:
    assert repair_enye(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DELA CRUZ", "DE LA CRUZ"),
        ("DE LACRUZ", "DE LA CRUZ"),
        ("DELACRUZ", "DE LA CRUZ"),
        ("DE LA CRUZ", "DE LA CRUZ"),
        ("DELOS SANTOS", "DE LOS SANTOS"),
        ("DE LOSSANTOS", "DE LOS SANTOS"),
        ("DELAS CASAS", "DE LAS CASAS"),
        ("DELAGUILA", "DEL AGUILA"),
        ("DEL AGUILA", "DEL AGUILA"),
        ("DELGADO", "DELGADO"),
        ("DELFIN", "DELFIN"),
        ("LAZO", "LAZO"),
        ("DE LAMA", "DE LAMA"),
    ],
)
def test_normalize_particles(raw: str, expected: str) -> None:
    assert normalize_particles(raw) == expected


def test_join_particles() -> None:
    assert join_particles("DE LA CRUZ") == join_particles(clean_name("Dela Cruz")) == "DELACRUZ"


@pytest.mark.parametrize("placeholder", ["N.N.", "NN", "s/n", "Desconocido", "NO REGISTRA", "xxx"])
def test_placeholders_are_no_name(placeholder: str) -> None:
    assert clean_name(placeholder) == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("QUISPE DE FLORES", ("QUISPE", "FLORES")),
        ("DE FLORES", ("", "FLORES")),
        ("QUISPE VDA DE ROJAS", ("QUISPE", "ROJAS")),
        ("QUISPE VIUDA DE ROJAS", ("QUISPE", "ROJAS")),
        ("DE LA CRUZ", ("DE LA CRUZ", "")),
        ("DE LOS SANTOS", ("DE LOS SANTOS", "")),
        ("DEL AGUILA", ("DEL AGUILA", "")),
        ("DE SOUZA", ("DE SOUZA", "")),
        ("QUISPE", ("QUISPE", "")),
        ("", ("", "")),
    ],
)
def test_split_married(raw: str, expected: tuple[str, str]) -> None:
    assert split_married(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ROSA ELENA QUISPE MAMANI", ("ROSA ELENA", "QUISPE", "MAMANI")),
        ("ROSA QUISPE MAMANI", ("ROSA", "QUISPE", "MAMANI")),
        ("ROSA QUISPE", ("ROSA", "QUISPE", "")),
        ("ROSA ELENA DE LA CRUZ MAMANI", ("ROSA ELENA", "DE LA CRUZ", "MAMANI")),
        ("QUISPE MAMANI, ROSA ELENA", ("ROSA ELENA", "QUISPE", "MAMANI")),
        ("DE LA CRUZ QUISPE, ROSA", ("ROSA", "DE LA CRUZ", "QUISPE")),
        ("MARIA ISABEL", ("MARIA ISABEL", "", "")),  # only given names: not split
        ("ROSA", ("ROSA", "", "")),
        # surnames first, recognised by the built-in common names
        ("QUISPE MAMANI ROSA ELENA", ("ROSA ELENA", "QUISPE", "MAMANI")),
        ("PINEDO GRACIELA", ("GRACIELA", "PINEDO", "")),
        # two given names and one surname (maternal surname missing)
        ("ROSA ELENA QUISPE", ("ROSA ELENA", "QUISPE", "")),
        # a married "DE <husband>" stays with the surname before it
        ("RODRIGUEZ BENITES DE SANCHEZ SANDRA", ("SANDRA", "RODRIGUEZ", "BENITES DE SANCHEZ")),
        ("ROSA QUISPE VDA DE FLORES", ("ROSA", "QUISPE VDA DE FLORES", "")),  # split_married next
        # given names with a particle stay given names, in either order
        ("MARIA DE LOS ANGELES ROJAS", ("MARIA DE LOS ANGELES", "ROJAS", "")),
        ("QUISPE MAMANI MARIA DEL CARMEN", ("MARIA DEL CARMEN", "QUISPE", "MAMANI")),
        # unknown words: the Peruvian order
        ("KORINA ZZYZX WAKAPU", ("KORINA", "ZZYZX", "WAKAPU")),
    ],
)
def test_split_full_name(raw: str, expected: tuple[str, str, str]) -> None:
    assert split_full_name(raw) == expected


def test_first_given_name() -> None:
    assert first_given_name("MARIA DEL CARMEN") == "MARIA"
    assert first_given_name("") == ""


def test_standardize_names_whole_name_in_nombres() -> None:
    parts = standardize_names(nombres="Rosa Elena Quispe Mamani", paterno="", materno=" ")
    assert (parts.given_names, parts.surname_paternal, parts.surname_maternal) == (
        "ROSA ELENA", "QUISPE", "MAMANI")
    assert parts.first_given_name == "ROSA"


def test_standardize_names_married_whole_name() -> None:
    parts = standardize_names(nombres="ROSA QUISPE DE FLORES", paterno="", materno="")
    assert (parts.surname_paternal, parts.surname_maternal, parts.married_surname) == (
        "QUISPE", "", "FLORES")


def test_standardize_names_married_in_maternal() -> None:
    parts = standardize_names(nombres="Ana", paterno="Peña", materno="Rojas de Munioz")
    assert (parts.surname_paternal, parts.surname_maternal, parts.married_surname) == (
        "PEÑA", "ROJAS", "MUÑOZ")


def test_standardize_names_married_in_paternal_when_maternal_empty() -> None:
    parts = standardize_names(nombres="Ana", paterno="Rojas de Flores", materno="")
    assert (parts.surname_paternal, parts.married_surname) == ("ROJAS", "FLORES")


def test_standardize_names_keeps_given_names_with_surnames_present() -> None:
    parts = standardize_names(nombres="ANA, LUCIA", paterno="ROJAS", materno="")
    assert parts.given_names == "ANA LUCIA"


def test_whole_name_split_learns_the_words_roles_from_the_export() -> None:
    """Unknown words: the export's own rows (surnames in their columns) say which is which."""
    from client_sdk.standardize.name_roles import NameRoles

    roles = NameRoles()
    assert split_full_name("TAPULLIMA XIOMIRA", roles) == ("TAPULLIMA", "XIOMIRA", "")
    for _ in range(3):
        roles.learn(given_names="XIOMIRA", surnames=("TAPULLIMA", ""))
    assert split_full_name("TAPULLIMA XIOMIRA", roles) == ("XIOMIRA", "TAPULLIMA", "")
    assert split_full_name("XIOMIRA TAPULLIMA", roles) == ("XIOMIRA", "TAPULLIMA", "")
    # the export outweighs the built-in prior: here ROSA is a surname
    for _ in range(10):
        roles.learn(given_names="ANA", surnames=("ROSA", "PAZ"))
    assert roles.given_log_odds("ROSA") < 0 < roles.given_log_odds("ANA")


def test_row_validator_splits_whole_names_by_what_the_export_teaches() -> None:
    from datetime import date

    from client_sdk.mapping import SourceMapping
    from client_sdk.validation import RowValidator

    rows = [("A1", "XIOMIRA", "TAPULLIMA", "URQUIZO"), ("A2", "YURANI", "OXA", ""),
            ("A3", "TAPULLIMA URQUIZO XIOMIRA", "", ""), ("A4", "OXA YURANI", "", "")]
    checker = RowValidator(mapping=SourceMapping.canonical(), today=date(2024, 1, 1))
    records, rejects = checker.check_chunk(2, {
        "record_id": [r[0] for r in rows], "nombres": [r[1] for r in rows],
        "apellido_paterno": [r[2] for r in rows], "apellido_materno": [r[3] for r in rows]})
    assert not [r for r in rejects if not r.kept]
    got = {r.record_id: (r.given_names, r.surname_paternal, r.surname_maternal)
           for r in records}
    assert got["A3"] == ("XIOMIRA", "TAPULLIMA", "URQUIZO")
    assert got["A4"] == ("YURANI", "OXA", "")
    # a later chunk still knows (roles carry over), and the order of records is kept
    later, _ = checker.check_chunk(6, {"record_id": ["B1"], "nombres": ["URQUIZO XIOMIRA"]})
    assert (later[0].given_names, later[0].surname_paternal) == ("XIOMIRA", "URQUIZO")
    assert [r.record_id for r in records] == ["A1", "A2", "A3", "A4"]
