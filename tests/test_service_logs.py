"""The service's log: one JSON object per line, always (uvicorn's lines and tracebacks
included), and nothing a client sent in it or echoed in an answer.

A real ``vinculo serve`` gets crafted requests carrying names, document numbers, birth dates
and record ids of synthetic people (in paths, queries, bodies, the token, an unknown route,
a request uvicorn cannot parse); then every log line must parse as JSON and
``tests/privacy_scan.py`` must find none of those identifiers in the log or in the answers.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.privacy_scan import identifiers_of, scan_responses, scan_text
from tests.test_openapi_fuzz import _bank_with_tokens


def _crafted(ids: dict[str, set[str]]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(role, method, path, request arguments) carrying identifiers."""
    name = sorted(ids["names"])[0]
    doc = sorted(ids["documents"])[0]
    born = sorted(d for d in ids["birth_dates"] if "-" in d)[0]
    rid = sorted(ids["record_ids"])[0]
    return [
        ("operator", "GET", f"/api/v1/persons/{name}", {}),
        ("operator", "GET", f"/api/v1/persons/P-{name[:10]}", {}),
        ("operator", "GET", f"/api/v1/jobs/{doc}", {}),
        ("operator", "GET", f"/api/v1/jobs/{doc}{doc}{doc}", {}),
        ("operator", "GET", f"/api/v1/uploads/{rid}", {}),
        ("reviewer", "POST", f"/api/v1/review/{doc}{doc}{doc}",
         {"json": {"decision": name, "reason": name}}),
        ("reviewer", "GET", f"/api/v1/review?offset={doc}{doc}{doc}&limit={born}", {}),
        ("auditor", "GET", f"/api/v1/reid/requests/{rid}", {}),
        ("auditor", "GET", f"/api/v1/audit/entries?action={name}&after_seq={born}", {}),
        ("auditor", "GET", f"/api/v1/audit/export?format={name}", {}),
        ("uploader", "GET", f"/api/v1/reid/requests/rq-0123456789abcdef/packages/{name}", {}),
        ("uploader", "POST", "/api/v1/records/withdraw", {"json": {"record_refs": [rid, doc]}}),
        ("uploader", "GET", f"/api/v1/results?offset={born}", {}),
        ("reid_requester", "POST", "/api/v1/reid/requests", {"json": {
            "persons": [name, doc], "legal_basis": "Ley 28950", "purpose": "carpeta 1",
            "sources": [rid]}}),
        ("reid_requester", "POST", "/api/v1/reid/requests",
         {"content": f'{{"persons": ["{name}"'.encode(),
          "headers": {"Content-Type": "application/json"}}),
        ("analyst", "GET", f"/api/v1/stats/tables?min_cell={born}", {}),
        ("operator", "GET", f"/api/v1/{name}/{doc}", {}),
        ("operator", "PATCH", f"/api/v1/jobs?who={name}", {}),
        ("operator", "GET", f"/consola/trabajos/{doc}{doc}{doc}",
         {"headers": {"Accept": "text/html"}}),
        (name, "GET", "/api/v1/jobs", {}),  # the name as a token
    ]


def test_log_is_json_lines_and_holds_nothing_a_client_sent(
    keys_dir: Path, tmp_path: Path, start_server: Callable[..., RunningServer],
) -> None:
    from vinculo_lab.synth import generate, profile, write_dataset

    data = tmp_path / "datos"
    write_dataset(generate(people=20, seed=11, config=profile("default")), data)
    ids = identifiers_of(sorted(data.glob("*.csv")))
    assert ids["names"] and ids["documents"] and ids["record_ids"]

    db_url = f"sqlite:///{tmp_path / 'bank.db'}"
    tokens, _app = _bank_with_tokens(db_url, keys_dir)
    server = start_server(db_url)
    answers = tmp_path / "answers.txt"
    with open(answers, "wb") as out:
        for role, method, path, extra in _crafted(ids):
            token = tokens.get(role, role)
            headers = {"Authorization": f"Bearer {token}", **extra.pop("headers", {})}
            answer = httpx.request(method, server.url + path, headers=headers, timeout=60,
                                   **extra)
            assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
            out.write(answer.content + b"\n")
        # A request uvicorn itself cannot parse (it logs a warning of its own).
        name = sorted(ids["names"])[0]
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(f"GET /{name} HTTP/1.1\r\nHost: x\r\n\x00{name}: x\r\n\r\n".encode())
            out.write(raw.recv(65536) + b"\n")

    server.process.terminate()
    server.process.wait(timeout=30)
    log = server.stderr_path.read_bytes()
    lines = log.decode("utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(e, dict) and "event" in e and "level" in e for e in events)
    assert any(e.get("logger") == "uvicorn.error" for e in events), "uvicorn's line missing"
    assert not [e for e in events if int(e.get("status", 0)) >= 500]

    assert scan_text(log, ids, "servicio.log") == []
    assert scan_responses(answers, ids) == []


def test_a_traceback_is_a_field_of_one_line_without_the_message() -> None:
    """Our loggers and uvicorn's, through the formatter ``vinculo serve`` installs."""
    from linkage_service.logs import JsonFormatter, configure_logging

    stream = io.StringIO()
    configure_logging("INFO", everything=True)
    try:
        root = logging.getLogger()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        for name in ("uvicorn.error", "vinculo.service"):
            try:
                int("MARISOL HUAMANÍ 1987-03-04")
            except ValueError:
                target = logging.getLogger(name)
                if name.startswith("vinculo"):
                    target.addHandler(handler)
                target.error("Exception in ASGI application", exc_info=sys.exc_info())
                target.removeHandler(handler)
        root.removeHandler(handler)
    finally:
        logging.captureWarnings(False)
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert len(lines) == 2
    for line in lines:
        event = json.loads(line)
        assert event["error"] == "ValueError"
        assert event["traceback"][-1] == "ValueError"
        assert any("test_service_logs.py" in frame for frame in event["traceback"])
        assert "MARISOL" not in line and "1987" not in line
    assert json.loads(lines[0])["logger"] == "uvicorn.error"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_keys_refuses_a_folder_without_the_service_key(
    db_url: str, keys_dir: Path, tmp_path: Path, vinculo: Any,
) -> None:
    import shutil

    keys = tmp_path / "claves"
    shutil.copytree(keys_dir, keys)
    (keys / "service" / "signing.key").unlink()
    refused = vinculo("serve", "--db", db_url, "--keys", str(keys), "--port", "9",
                      check=False)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert lines[-1].startswith("vinculo: error:") and "service/signing.key" in lines[-1]
    assert not Path(db_url.removeprefix("sqlite:///") + ".service-key").exists()
