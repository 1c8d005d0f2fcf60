"""UBIGEO rules and the vinculo_common.ubigeo tables."""

from __future__ import annotations

import pytest

from client_sdk.standardize.places import coarsen_ubigeo, standardize_ubigeo
from client_sdk.standardize.text import InvalidValue, Salvaged
from vinculo_common import ubigeo


def test_tables_load_every_level() -> None:
    assert ubigeo.name("15") == "LIMA"
    assert ubigeo.name("1501") == "LIMA, LIMA"
    assert ubigeo.name("150101") == "LIMA, LIMA, LIMA"
    assert ubigeo.name("070101") == "CALLAO, CALLAO, CALLAO"
    assert ubigeo.name("999999") is None


def test_is_inei_accepts_padded_codes() -> None:
    assert ubigeo.is_inei("150000") and ubigeo.is_inei("150100") and ubigeo.is_inei("150101")
    assert not ubigeo.is_inei("159999")
    assert not ubigeo.is_inei("99")


def test_reniec_translation() -> None:
    # RENIEC numbers Lima 14 and Callao 24; INEI numbers them 15 and 07.
    assert ubigeo.reniec_to_inei("14") == "15"
    assert ubigeo.reniec_to_inei("140101") == "150101"
    assert ubigeo.reniec_to_inei("24") == "07"
    assert ubigeo.reniec_to_inei("240101") == "070101"
    assert ubigeo.reniec_to_inei("990101") is None


def test_department_and_province() -> None:
    assert ubigeo.department("150101") == "15"
    assert ubigeo.province("150101") == "1501"
    assert ubigeo.province("15") is None
    assert ubigeo.department("999999") is None


def test_population_sums_districts_upwards() -> None:
    district = ubigeo.unit("150101")
    assert district is not None
    assert ubigeo.population_2020("150101") == pytest.approx(
        district.area_km2 * district.density_2020)
    districts = [c for c in ubigeo._tables().units if len(c) == 6 and c.startswith("1501")]
    assert ubigeo.population_2020("1501") == pytest.approx(
        sum(ubigeo.population_2020(c) or 0 for c in districts))
    total = sum(ubigeo.population_2020(f"{d:02d}") or 0 for d in range(1, 26))
    assert 30e6 < total < 36e6  # Peru, 2020


def test_indicators() -> None:
    idh = ubigeo.idh_2019("15")
    poverty = ubigeo.poverty_pct("150101")
    extreme = ubigeo.extreme_poverty_pct("150101")
    assert idh is not None and 0 < idh < 1
    assert poverty is not None and extreme is not None and 0 <= extreme <= poverty <= 100
    assert ubigeo.idh_2019("999999") is None


@pytest.mark.parametrize(
    ("raw", "system", "expected"),
    [
        ("150101", "inei", "150101"),
        ("150100", "inei", "1501"),
        ("150000", "inei", "15"),
        ("1501", "inei", "1501"),
        ("15", "inei", "15"),
        ("10101", "inei", "010101"),  # leading zero lost by a spreadsheet
        ("101", "inei", "0101"),
        ("1", "inei", "01"),
        ("150101.0", "inei", "150101"),
        (" 150101 ", "inei", "150101"),
        ("", "inei", ""),
        ("140101", "reniec", "150101"),
        ("140000", "reniec", "15"),
        ("070207", "inei", "080204"),  # only RENIEC knows it: translated
        ("0702", "inei", "0802"),
        ("140101", "inei", "140101"),  # valid INEI code: read as INEI
    ],
)
def test_standardize_ubigeo(raw: str, system: str, expected: str) -> None:
    assert standardize_ubigeo(raw, system=system) == expected


@pytest.mark.parametrize(
    ("raw", "system", "fragment"),
    [
        ("LIMA", "inei", "mal formado"),
        ("15-01-0A", "inei", "mal formado"),
        ("1501011", "inei", "mal formado"),
        ("999999", "inei", "desconocido en las tablas INEI y RENIEC"),
        ("990000", "inei", "desconocido"),
        ("999999", "reniec", "RENIEC desconocido"),
    ],
)
def test_bad_ubigeo_is_refused(raw: str, system: str, fragment: str) -> None:
    with pytest.raises(InvalidValue, match=fragment):
        standardize_ubigeo(raw, system=system)


def test_separators_between_digits_are_dropped() -> None:
    assert standardize_ubigeo("15-01-01") == "150101"
    assert standardize_ubigeo("15 01") == "1501"


@pytest.mark.parametrize(
    ("raw", "system", "kept", "fragment"),
    [
        ("150199", "inei", "1501", "se conserva la provincia"),
        ("159999", "inei", "15", "se conserva el departamento"),
        ("1599", "inei", "15", "se conserva el departamento"),
        ("149999", "reniec", "15", "se conserva el departamento"),  # RENIEC 14 is Lima
    ],
)
def test_unknown_district_keeps_province_or_department(raw: str, system: str, kept: str,
                                                       fragment: str) -> None:
    with pytest.raises(Salvaged, match=fragment) as caught:
        standardize_ubigeo(raw, system=system)
    assert caught.value.value == kept


def test_coarsen_ubigeo() -> None:
    assert coarsen_ubigeo("150101", level="district") == "150101"
    assert coarsen_ubigeo("150101", level="province") == "1501"
    assert coarsen_ubigeo("150101", level="department") == "15"
    assert coarsen_ubigeo("", level="province") == ""
