"""clkhash encodings are bit-identical to fixed vectors under our dependency overrides.

clkhash 0.18.3 pins ``cryptography<41``, ``bitarray<3`` and ``mypy_extensions<0.5``; vinculo
overrides them (cryptography >= 46, bitarray >= 3, mypy-extensions >= 1; see the README). The
vectors below were computed once with clkhash 0.18.3's reference behaviour, under its own old
pins (a throwaway venv: ``python3 -m venv /tmp/oldpins && /tmp/oldpins/bin/pip install
clkhash==0.18.3`` gave cryptography 40.0.2, bitarray 2.9.3, mypy_extensions 0.4.4), and the
same script run under the project's environment gave byte-identical output. If an upgrade of
any of those packages changes how a name becomes bits, these tests fail, and every CLK already
in the bank would silently stop matching new ones: that is what they guard.

The schema is a frozen copy of vinculo-v1's clkhash part (descriptions dropped), so tuning
the shipped schema does not churn these vectors; the last test ties the shipped schema to
clkhash's own entry point instead.
"""

from __future__ import annotations

from typing import Any

import pytest

from client_sdk.clk_backend import ClkEncoder, reference_clks
from vinculo_common.errors import SchemaMismatch
from vinculo_common.schemas import load_linkage_schema

SECRET = bytes(range(32))
_MISSING = {"sentinel": "", "replaceWith": ""}


def _feature(identifier: str, fmt: dict[str, Any], comparison: dict[str, Any], bits: int,
             missing: bool = False) -> dict[str, Any]:
    hashing: dict[str, Any] = {"comparison": comparison, "strategy": {"bitsPerFeature": bits},
                               "hash": {"type": "blakeHash"}}
    if missing:
        hashing["missingValue"] = dict(_MISSING)
    return {"identifier": identifier, "format": fmt, "hashing": hashing}


_TEXT = {"type": "string", "encoding": "utf-8"}
_ASCII = {"type": "string", "encoding": "ascii"}
_BIGRAM = {"type": "ngram", "n": 2}
_EXACT = {"type": "exact"}

FROZEN_SCHEMA: dict[str, Any] = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64,
                "salt": "dmluY3VsbyBsaW5rYWdlIHNjaGVtYSB2MQ==",
                "info": "dmluY3VsbyBjbGsgZmVhdHVyZSBrZXlz"},
    },
    "features": [
        _feature("given_names", _TEXT, _BIGRAM, 130),
        _feature("first_given_name", _TEXT, _BIGRAM, 80),
        _feature("surnames_unordered", _TEXT, _BIGRAM, 190),
        _feature("surname_paternal", _TEXT, _BIGRAM, 60),
        _feature("birth_year", {"type": "integer", "minimum": 1900, "maximum": 2100},
                 {"type": "numeric", "thresholdDistance": 3, "resolution": 3}, 60, True),
        _feature("birth_month", {"type": "integer", "minimum": 1, "maximum": 12}, _EXACT, 25,
                 True),
        _feature("birth_day", {"type": "integer", "minimum": 1, "maximum": 31}, _EXACT, 25, True),
        _feature("birth_day_month_unordered", _ASCII, _EXACT, 20),
        _feature("document_number", _ASCII, _BIGRAM, 100),
        _feature("sex", {"type": "enum", "values": ["F", "M"]}, _EXACT, 15, True),
    ],
}

ROWS = [
    ["MARIA ISABEL", "MARIA", "FLORES QUISPE", "QUISPE", "1998", "7", "14", "07 14", "04512378",
     "F"],
    ["ROSA", "ROSA", "DE LA CRUZ MAMANI", "DE LA CRUZ", "2005", "", "", "", "", "F"],
    ["YORGELIS DEL VALLE", "YORGELIS", "RODRIGUEZ", "RODRIGUEZ", "2001", "12", "3", "03 12",
     "PTP1234567", "F"],
    ["JOSE LUIS", "JOSE", "HUAMAN ÑAUPARI", "ÑAUPARI", "", "", "", "", "", "M"],
    ["", "", "", "", "", "", "", "", "", ""],
]

EXPECTED_HEX = [
    "50928d6a7857694182cefcd2f1f725f33b34351fdbc45b0223412362b6ec0d020b28ff050a7b35a9703c9629"
    "5472f9768524d9c9fda87e252af50204b9aee6cacfe5a42cfabaa407d40eb0c4f6f5801d998a350da3f2fcfa"
    "07714bc3e7928e3a8734882b2be4cc3d4c0aa559da6f06b54f0b4aec5110ff271038fd1ed6c56c93",
    "50d0b751c714b762bacc89219947847672a2f58c54c86a7633035203a2781b030f9849e1821c3548a0185296"
    "5c00550316b4058906375fc345a352022e9cba18c6249080e286962a3902e021636088b091149606151f8107"
    "97309909e0910653c2b4c8c866411284b48091616428005641f3961da230aa139010d7ecc0e2d69b",
    "32c084e356c233d0b45ea8ace3d530d04f4fa720da87b012205d77e4b64c6c874476e314ec06249d04430a07"
    "69c2c0d627aab888d6d319b0917575bf0b2a3cbf8693df1bd3202d9720ba45844cbcf01d0bea29f34fc0bfa8"
    "1720e0d025349eb6ba661a41471f5e2b60aa7f412fac2694de22dcdc2d534a13381cd5d4e2b6d6fe",
    "c3308a5b13f0b1230e01b4047010344a4fe016245ec4ca0869261445d253e25a2c8447ade4ac0f6808895285"
    "1ac1a346a6088305ca7058a024670971428aa1c8b0235440c4c56e1700066620c806037401cdb22647c5c19a"
    "cc0f5751042d0116a5b0f806005601a9ad0b151c3854504c9120c496003d8d10810200c40b690cdb",
    "00" * 128,
]


def test_clkhash_reference_matches_fixed_vectors() -> None:
    got = reference_clks(ROWS, FROZEN_SCHEMA, secret=SECRET)
    assert [c.hex() for c in got] == EXPECTED_HEX


def test_our_encoder_matches_fixed_vectors() -> None:
    got = ClkEncoder(FROZEN_SCHEMA, secret=SECRET).encode(ROWS)
    assert [c.hex() for c in got] == EXPECTED_HEX


def test_another_secret_gives_other_bits() -> None:
    got = ClkEncoder(FROZEN_SCHEMA, secret=bytes(32)).encode(ROWS[:1])
    assert got[0].hex() != EXPECTED_HEX[0]


def test_shipped_schema_agrees_with_clkhash_entry_point() -> None:
    schema = load_linkage_schema("vinculo-v1")
    ours = ClkEncoder(schema, secret=SECRET).encode(ROWS)
    assert ours == reference_clks(ROWS, schema, secret=SECRET)
    assert all(len(c) == 128 for c in ours)


def test_double_hash_is_refused() -> None:
    schema = load_linkage_schema("vinculo-v1")
    schema["features"][0]["hashing"]["hash"] = {"type": "doubleHash"}
    with pytest.raises(SchemaMismatch, match="doubleHash"):
        ClkEncoder(schema, secret=SECRET)
    with pytest.raises(SchemaMismatch, match="doubleHash"):
        reference_clks(ROWS, schema, secret=SECRET)


def test_xor_folds_are_refused_because_clkhash_ignores_them() -> None:
    schema = load_linkage_schema("vinculo-v1")
    schema["clkConfig"]["xorFolds"] = 1
    with pytest.raises(SchemaMismatch, match="xorFolds"):
        ClkEncoder(schema, secret=SECRET)


def test_invalid_value_error_does_not_quote_it() -> None:
    from vinculo_common.errors import InputError

    row = list(ROWS[0])
    row[4] = "MIL NOVECIENTOS"  # not an integer year
    with pytest.raises(InputError) as info:
        ClkEncoder(FROZEN_SCHEMA, secret=SECRET).encode([row])
    assert "NOVECIENTOS" not in str(info.value) and "birth_year" in str(info.value)


def test_memoised_encoder_equals_clkhash_on_many_records(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from client_sdk import clk_backend

    monkeypatch.setattr(clk_backend, "_CACHE_LIMIT", 7)  # force the caches to clear often
    rng = random.Random(5)
    given = ["ANA", "ROSA MARIA", "LUZ", "YORGELIS", "ÑUSTA", ""]
    surnames = ["QUISPE", "DE LA CRUZ", "PEÑA", "MAMANI", ""]
    rows = []
    for _ in range(300):
        g = rng.choice(given)
        day, month = rng.choice(["", "3", "17"]), rng.choice(["", "1", "12"])
        rows.append([g, g.split(" ")[0], " ".join(sorted({rng.choice(surnames),
                     rng.choice(surnames)})).strip(), rng.choice(surnames),
                     rng.choice(["", "1990", "2004"]), month, day,
                     f"{int(day):02d} {int(month):02d}" if day and month else "",
                     rng.choice(["", f"{rng.randint(0, 10**8 - 1):08d}"]),
                     rng.choice("FM ").strip()])
    schema = load_linkage_schema("vinculo-v1")
    assert ClkEncoder(schema, secret=SECRET).encode(rows) == reference_clks(rows, schema,
                                                                           secret=SECRET)
