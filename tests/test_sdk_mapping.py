"""Source mappings: the shipped files, header matching, and refusal of malformed mappings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from client_sdk.mapping import CANONICAL_COLUMNS, SourceMapping, load_mapping
from client_sdk.pipeline import standardize_export
from client_sdk.records import PartialDate, StandardizedRecord
from vinculo_common.errors import InputError, MappingError
from vinculo_common.paths import schemas_dir

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
TODAY = date(2024, 6, 30)


def _records(name: str, source: str | None) -> tuple[list[StandardizedRecord], object]:
    run = standardize_export(EXPORTS / name, mapping=load_mapping(source) if source else None,
                             today=TODAY)
    return [record for chunk in run for record in chunk], run


@pytest.mark.parametrize("source", ["reta", "sistra", "care"])
def test_shipped_mappings_load(source: str) -> None:
    mapping = load_mapping(source)
    assert mapping.source == source
    assert set(mapping.columns) == set(CANONICAL_COLUMNS)
    assert set(mapping.policy) == {"event_date", "ubigeo"}


def test_mapping_by_path(tmp_path: Path) -> None:
    copy = tmp_path / "mine.json"
    copy.write_text((schemas_dir() / "sources" / "reta.json").read_text(encoding="utf-8"),
                    encoding="utf-8")
    assert load_mapping(copy).source == "reta"
    assert load_mapping(str(copy)).source == "reta"


def test_reta_export_maps_to_canonical_values() -> None:
    records, run = _records("reta_export.csv", "reta")
    assert run.encoding == "cp1252"  # type: ignore[attr-defined]
    first, second, third, fourth = records
    assert (first.record_id, first.given_names, first.surname_paternal, first.surname_maternal,
            first.married_surname) == ("R-0001", "ROSA ELENA", "PEÑA", "QUISPE", "FLORES")
    assert first.sex == "F"  # RETA code 2
    assert first.birth_date == PartialDate(1998, 7, 12)
    assert (first.document_type, first.document_number) == ("DNI", "01234567")
    assert first.nationality == "PER"
    assert (first.ubigeo_birth, first.ubigeo_residence, first.ubigeo_event) == (
        "080101", "150132", "150132")
    assert first.event_date == date(2021, 3, 4)
    assert first.exploitation == ("sexual",)
    assert first.age_at_event == 22
    assert second.surname_paternal == "DE LA CRUZ"
    assert (second.birth_year_min, second.birth_year_max) == (2002, 2003)
    assert second.document_number == "12345678"  # check digit verified and dropped
    assert second.ubigeo_residence == "2111"
    assert second.exploitation == ("laboral",)  # TRABAJO FORZOSO
    assert (third.document_type, third.document_number) == ("PASAPORTE", "VE1234567")
    assert third.nationality == "VEN"
    assert third.exploitation == ("sexual",)  # RETA's own label
    # an unknown district keeps its department; only rows that cannot be linked are rejected
    assert (fourth.record_id, fourth.ubigeo_birth) == ("R-0005", "15")
    reported = {(r.row, r.column, r.kept) for r in run.rejects}  # type: ignore[attr-defined]
    assert reported == {(5, "record_id", False), (6, "ubigeo_nacimiento", True),
                        (7, "nombres", False)}


def test_sistra_export_maps_to_canonical_values() -> None:
    records, run = _records("sistra_export.csv", "sistra")
    first, second, third, fourth = records
    assert (first.record_id, first.surname_maternal, first.married_surname) == (
        "2021-0042-V1", "QUISPE", "FLORES")
    assert first.nationality == "PER"  # SISTRA country code 9589
    assert first.exploitation == ("sexual",)  # code 01
    assert second.surname_maternal == "ÑAHUI"
    assert second.birth_date == PartialDate(2005, 2)
    assert second.document_number == "40000001"
    assert second.exploitation == ("sexual", "mendicidad")
    assert (third.document_type, third.nationality) == ("PASAPORTE", "VEN")
    assert run.unknown_columns == ["FISCALIA"]  # type: ignore[attr-defined]
    # unknown sex and exploitation codes, an impossible birth day, a future event: the record
    # is kept without them (the year of the birth date salvaged), each noted
    assert (fourth.sex, fourth.birth_date, fourth.event_date, fourth.exploitation) == (
        "", PartialDate(2001), None, ())
    notes = {r.column for r in run.rejects if r.row == 5 and r.kept}  # type: ignore[attr-defined]
    assert notes == {"sexo", "forma_explotacion", "fecha_hecho", "fecha_nacimiento"}


def test_care_export_maps_to_canonical_values() -> None:
    records, run = _records("care_export.csv", "care")
    assert run.encoding == "utf-8-sig"  # type: ignore[attr-defined]
    first, second, third = records
    # the whole name typed into one column is split back
    assert (first.given_names, first.surname_paternal, first.surname_maternal) == (
        "ROSA ELENA", "PEÑA", "QUISPE")
    assert (second.given_names, second.surname_paternal, second.surname_maternal) == (
        "LUZ", "MAMANI", "TICONA")
    # places copied from the DNI are RENIEC codes: Lima 14 -> 15, Callao 24 -> 07
    assert first.ubigeo_birth == "150101"
    assert second.ubigeo_birth == "070101"
    assert second.ubigeo_event == "070101"  # the service's own place, INEI
    assert second.sex == "F"  # NIÑA
    assert (second.document_type, second.document_number) == ("", "")
    assert second.exploitation == ("venta_ninos",)
    assert (first.birth_year_min, first.birth_year_max) == (1998, 1999)
    assert third.document_type == "CPP"
    assert load_mapping("care").policy == {"event_date": "month", "ubigeo": "province"}


def test_canonical_export_needs_no_mapping() -> None:
    records, run = _records("canonical_export.csv", None)
    assert [r.record_id for r in records] == ["C1", "C2", "C3"]
    assert records[1].document_number == "45678123"
    assert (records[2].surname_paternal, records[2].surname_maternal) == ("CASTAÑEDA", "ORDOÑEZ")
    assert records[2].ubigeo_residence == "15"
    assert run.rejects == []  # type: ignore[attr-defined]


def test_headers_match_ignoring_case_accents_spaces_and_underscores() -> None:
    mapping = load_mapping("reta")
    found = mapping.resolve_headers(
        ["n° registro", "Apellido_Paterno", "apellido materno", "NOMBRES ", "fec nacimiento",
         "Fecha Hecho"]
    )
    assert found.positions == {"record_id": 0, "apellido_paterno": 1, "apellido_materno": 2,
                               "nombres": 3, "fecha_nacimiento": 4, "fecha_hecho": 5}
    assert found.unknown == []


def test_ignored_columns_are_not_unknown() -> None:
    found = load_mapping("reta").resolve_headers(["N° REGISTRO", "NOMBRES", "Observaciones", "X"])
    assert found.unknown == ["X"]


def test_two_headers_for_one_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match="dos columnas"):
        SourceMapping.canonical().resolve_headers(["record_id", "nombres", "NOMBRES"])


def test_missing_record_id_is_an_input_error() -> None:
    with pytest.raises(InputError, match="record_id"):
        load_mapping("sistra").resolve_headers(["NOMBRES_VICTIMA"])


def test_missing_names_is_an_input_error() -> None:
    with pytest.raises(InputError, match="nombres"):
        SourceMapping.canonical().resolve_headers(["record_id", "apellido_paterno"])


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


BASE = {"format_version": 1, "source": "nueva", "columns": {"record_id": ["CODIGO"]}}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"columns": {"edad_x": ["EDAD"]}}, "columns"),
        ({"source": "Nueva Fuente"}, "source"),
        ({"format_version": 2}, "format_version"),
        ({"policy": {"event_date": "week"}}, "policy/event_date"),
        ({"policy": {"ubigeo": "region"}}, "policy/ubigeo"),
        ({"values": {"sexo": {"1": "X"}}}, "values/sexo/1"),
        ({"values": {"forma_explotacion": {"A": "sexo"}}}, "values/forma_explotacion/A"),
        ({"values": {"nacionalidad": {"PE": "PE"}}}, "values/nacionalidad/PE"),
        ({"ubigeo_system": "ine"}, "ubigeo_system"),
        ({"file": {"delimiter": ":"}}, "file/delimiter"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_mapping_is_refused_with_reason(
    tmp_path: Path, change: dict[str, object], fragment: str
) -> None:
    with pytest.raises(MappingError, match=fragment):
        load_mapping(_write(tmp_path, {**BASE, **change}))


def test_alias_for_two_columns_is_refused(tmp_path: Path) -> None:
    document = {**BASE, "columns": {"record_id": ["CODIGO"], "nombres": ["codigo"]}}
    with pytest.raises(MappingError, match="corresponde a record_id y a nombres"):
        load_mapping(_write(tmp_path, document))


def test_alias_shadowing_a_canonical_name_is_refused(tmp_path: Path) -> None:
    document = {**BASE, "columns": {"record_id": ["CODIGO"], "nombres": ["edad"]}}
    with pytest.raises(MappingError, match="edad"):
        load_mapping(_write(tmp_path, document))


def test_mapped_and_ignored_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="ignorada"):
        load_mapping(_write(tmp_path, {**BASE, "ignore_columns": ["Código"]}))


def test_conflicting_codes_are_refused(tmp_path: Path) -> None:
    document = {**BASE, "values": {"sexo": {"Mujer": "F", "MUJER ": "M"}}}
    with pytest.raises(MappingError, match="se repite"):
        load_mapping(_write(tmp_path, document))


def test_unreadable_mappings(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no hay mapeo"):
        load_mapping("inexistente")
    with pytest.raises(MappingError, match="no existe"):
        load_mapping(tmp_path / "nada.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  'source': 1\n}", encoding="utf-8")
    with pytest.raises(MappingError, match="línea 2"):
        load_mapping(bad)


def test_new_source_is_a_new_file(tmp_path: Path) -> None:
    document = {
        "format_version": 1,
        "source": "demuna",
        "columns": {"record_id": ["EXPEDIENTE"], "nombres": ["NOMBRE COMPLETO"],
                    "sexo": ["GENERO"], "ubigeo_hecho": ["LUGAR"]},
        "values": {"sexo": {"FEM": "F", "MAS": "M"}},
        "ubigeo_system": {"ubigeo_hecho": "reniec"},
        "policy": {"event_date": "year"},
    }
    export = tmp_path / "demuna.csv"
    export.write_text("EXPEDIENTE,NOMBRE COMPLETO,GENERO,LUGAR\nE-1,Ana Rojas Diaz,Fem,140101\n",
                      encoding="utf-8")
    run = standardize_export(export, mapping=load_mapping(_write(tmp_path, document)))
    [record] = [r for chunk in run for r in chunk]
    assert (record.surname_paternal, record.sex, record.ubigeo_event) == ("ROJAS", "F", "150101")
    assert run.mapping.policy == {"event_date": "year", "ubigeo": "district"}
