"""Document rules: type code lists, DNI cleaning, RENIEC check character."""

from __future__ import annotations

import pytest

from client_sdk.standardize.documents import (
    clean_dni,
    clean_document_number,
    dni_check_characters,
    normalize_document_type,
)
from client_sdk.standardize.text import InvalidValue


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DNI", "DNI"), ("d.n.i.", "DNI"), ("L.E.", "DNI"), ("C.E.", "CE"),
        ("Carné de Extranjería", "CE"), ("pasaporte", "PASAPORTE"), ("PTP", "PTP"),
        ("CPP", "CPP"), ("otro", "OTRO"), ("Partida de nacimiento", "OTRO"),
        ("", ""), ("SIN DOCUMENTO", ""), ("Indocumentada", ""),
    ],
)
def test_document_types(raw: str, expected: str) -> None:
    assert normalize_document_type(raw) == expected


def test_source_codes_come_first() -> None:
    assert normalize_document_type("01", codes={"01": "DNI"}) == "DNI"


def test_unknown_document_type_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidValue) as caught:
        normalize_document_type("LICENCIA XYZ")
    assert "XYZ" not in str(caught.value)


@pytest.mark.parametrize(
    ("number", "expected"),
    # RENIEC: weights 3,2,7,6,5,4,3,2; sum mod 11 indexes "65432110987" / "KJIHGFEDCBA"
    # worked by hand: 12345678 -> 3+4+21+24+25+24+21+16 = 138, 138 % 11 = 6 -> "1", "E"
    [("12345678", "1E"), ("00000001", "4I"), ("01234567", "0D"), ("40000001", "3H")],
)
def test_dni_check_characters(number: str, expected: str) -> None:
    assert dni_check_characters(number) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678", "12345678"),
        ("1234567", "01234567"),  # lost leading zero restored
        ("801174", "00801174"),
        ("12.345.678", "12345678"),
        (" 12345678 ", "12345678"),
        ("123456781", "12345678"),  # 9th check digit verified and dropped
        ("12345678-1", "12345678"),
        ("12345678E", "12345678"),  # check letter
        ("12345678-e", "12345678"),
        ("1234567-0", "01234567"),  # explicit check after a short number
        ("12-345-678", "12345678"),
        ("I234S678", "12345678"),  # letters a scanner reads for digits
        ("O1234567", "01234567"),
        ("1234S678-1", "12345678"),
        ("1234567D", "01234567"),  # lost leading zero and a check letter
        ("1234567B", "12345678"),  # B is no check letter of 01234567: a scanner's 8
    ],
)
def test_clean_dni(raw: str, expected: str) -> None:
    assert clean_dni(raw) == expected


@pytest.mark.parametrize("raw", ["123456782", "12345678-A", "1234567-1", "12345678B"])
def test_wrong_check_character_is_refused(raw: str) -> None:
    with pytest.raises(InvalidValue, match="dígito verificador"):
        clean_dni(raw)


@pytest.mark.parametrize("raw", ["12345", "ABC12345", "1234567890", "12345678XX"])
def test_malformed_dni_is_refused(raw: str) -> None:
    with pytest.raises(InvalidValue, match="DNI mal formado"):
        clean_dni(raw)


def test_other_documents_upper_alphanumeric() -> None:
    assert clean_document_number(" ve-123.456 ", document_type="PASAPORTE") == "VE123456"
    assert clean_document_number("001234567", document_type="CE") == "001234567"


@pytest.mark.parametrize("raw", ["AB", "Ñ12345", "A" * 21])
def test_malformed_other_documents_are_refused(raw: str) -> None:
    with pytest.raises(InvalidValue, match="documento mal formado"):
        clean_document_number(raw, document_type="PTP")


def test_placeholder_numbers_are_empty() -> None:
    assert clean_document_number("00000000", document_type="DNI") == ""
    assert clean_document_number("99999999", document_type="") == ""
    assert clean_document_number("", document_type="DNI") == ""
