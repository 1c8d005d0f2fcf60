"""Crafted batch headers and attributes reach the API as an uploader would send them: each gets
a 4xx with a reason, never a 500, and nothing is stored. The header is parsed (with limits)
before the signature is checked, so these need no valid signature to be answered."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from vinculo_common.batch import BATCH_MAGIC, SIGNATURE_SIZE, read_batch
from vinculo_common.errors import InputError


def split(path: Path) -> tuple[bytes, bytes, bytes]:
    data = path.read_bytes()
    (hlen,) = struct.unpack(">I", data[8:12])
    header = data[12:12 + hlen]
    return header, data[12 + hlen:12 + hlen + SIGNATURE_SIZE], data[12 + hlen + SIGNATURE_SIZE:]


def assemble(header: bytes, signature: bytes, body: bytes) -> bytes:
    return BATCH_MAGIC + struct.pack(">I", len(header)) + header + signature + body


def with_field(header: bytes, key: str, raw: str, *, in_section: bool = False) -> bytes:
    """The header with ``key`` set to the raw JSON text ``raw`` (1e400 has no Python value)."""
    obj = json.loads(header)
    marker = "\u0000MARK\u0000"
    (obj["sections"][0] if in_section else obj)[key] = marker
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).replace(
        json.dumps(marker), raw).encode()


BAD_VALUES = ["1e400", "-1e400", "Infinity", "-Infinity", "NaN", '"x"', "null", "-1", "1.5",
              str(2**70), "[1]", "{}", "true"]
DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize("key", ["record_count", "clk_bits", "item_size", "body_length"])
def test_crafted_numbers_in_the_header_get_a_4xx(
    service: Any, make_batch: Any, key: str,
) -> None:
    header, signature, body = split(make_batch("reta", [bytes(32)]))
    uploader = service.token("uploader", "reta")
    for raw in [*BAD_VALUES, DEEP]:
        crafted = with_field(header, key, raw, in_section=key == "item_size")
        response = service.http.post(
            "/api/v1/uploads", content=assemble(crafted, signature, body),
            headers={"Authorization": f"Bearer {uploader}",
                     "Content-Type": "application/octet-stream"})
        assert 400 <= response.status_code < 500, (key, raw[:20], response.status_code)
        assert response.json()["detail"], (key, raw[:20])
        with pytest.raises(InputError):
            read_batch(assemble(crafted, signature, body))
    assert service.count("upload") == 0 and service.count("encoded_record") == 0


def test_deep_nesting_and_oversize_headers_are_refused(service: Any, make_batch: Any) -> None:
    header, signature, body = split(make_batch("reta", [bytes(32)]))
    uploader = service.token("uploader", "reta")
    obj = json.loads(header)
    cases = {
        "deep extra field": with_field(header, "note", DEEP),
        "nested a little too deep": with_field(header, "note", "[[[[[1]]]]]"),
        "not an object": b"[" * 30_000 + b"]" * 30_000,
        "oversize": json.dumps({**obj, "note": "x" * (70 << 10)}).encode(),
        "sections not a list": with_field(header, "sections", '"x"'),
        "source not text": with_field(header, "source", "12"),
    }
    for what, crafted in cases.items():
        response = service.http.post(
            "/api/v1/uploads", content=assemble(crafted, signature, body),
            headers={"Authorization": f"Bearer {uploader}"})
        assert 400 <= response.status_code < 500, (what, response.status_code)
        assert response.json()["detail"]
    assert service.count("upload") == 0


def test_attribute_lines_are_bounded_too(service: Any, make_batch: Any) -> None:
    header, signature, body = split(make_batch("reta", [bytes(32)]))
    obj = json.loads(header)
    attrs = next(s for s in obj["sections"] if s["name"] == "attributes")
    uploader = service.token("uploader", "reta")
    for line in (b'{"birth_year_min":1e400}', b'{"birth_year_min":NaN}',
                 b'{"exploitation":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
                 b'{"birth_year_min":' + str(2**70).encode() + b"}"):
        new_body = body[:attrs["offset"]] + line + b"\n"
        crafted = {**obj, "body_length": len(new_body),
                   "body_sha256": hashlib.sha256(new_body).hexdigest(),
                   "sections": [*[s for s in obj["sections"] if s["name"] != "attributes"],
                                {**attrs, "length": len(line) + 1}]}
        response = service.http.post(
            "/api/v1/uploads",
            content=assemble(json.dumps(crafted, sort_keys=True).encode(), signature, new_body),
            headers={"Authorization": f"Bearer {uploader}"})
        assert 400 <= response.status_code < 500, (line[:30], response.status_code)
    assert service.count("encoded_record") == 0


@pytest.mark.parametrize("event_date", ["2021-13-45", "2021-02-30", "2021-00", "0000",
                                        "2021-1-05"])
def test_a_signed_batch_with_an_impossible_date_is_refused(
    service: Any, make_batch: Any, event_date: str,
) -> None:
    batch = make_batch("reta", [bytes(32)], attributes={"sex": "F", "event_date": event_date})
    response = service.http.post(
        "/api/v1/uploads", content=batch.read_bytes(),
        headers={"Authorization": f"Bearer {service.token('uploader', 'reta')}"})
    assert response.status_code in (400, 422), response.text
    assert "event_date" in response.json()["detail"]
    assert service.count("upload") == 0 and service.count("encoded_record") == 0
    # Real dates, months and years still go in.
    for good in ("2021-02-28", "2024-02-29", "2021-12", "2021"):
        ok = make_batch("reta", [bytes([1]) * 32], attributes={"sex": "F", "event_date": good})
        assert service.uploader("reta").upload(ok)["record_count"] == 1
