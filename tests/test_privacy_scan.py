"""The privacy scanner must find what it looks for, in clear, base64 (any alignment) and hex."""

from __future__ import annotations

import base64
import random

import pytest
from privacy_scan import scan_bytes

IDS = {"names": {"QUISPE"}, "documents": {"12345678"}, "birth_dates": {"2001-02-03"},
       "record_ids": {"RETA-000123"}}


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz"])
def test_finds_identifiers_inside_base64_at_any_alignment(prefix: bytes) -> None:
    blob = prefix + base64.b64encode(b"nombre: quispe; nacido 2001-02-03") + b"tail"
    kinds = {kind for _, kind in scan_bytes(blob, IDS, "x")}
    assert kinds == {"names", "birth_dates"}


def test_finds_clear_and_hex_and_nothing_in_clean_bytes() -> None:
    assert {k for _, k in scan_bytes(b"id RETA-000123 ok", IDS, "x")} == {"record_ids"}
    assert {k for _, k in scan_bytes(b"doc=" + b"DNI 12345678".hex().encode(), IDS, "x")} == {
        "documents"}
    assert scan_bytes(random.Random(1).randbytes(1 << 16), IDS, "x") == []
