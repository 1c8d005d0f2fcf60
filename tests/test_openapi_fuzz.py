"""schemathesis (every check, ``--checks all``) against a real ``vinculo serve``, with a token of
each role and with none: 0 server errors and 0 schema violations.

Each role is fuzzed on the operations its role may call (the 403s of the others are the role
matrix's job, ``tests/test_service_roles.py``); the run without a token covers every operation
(401 in the one error shape, or the public answer). The runs are bounded (``MAX_EXAMPLES`` per
operation in the fuzzing phase, plus schemathesis' coverage and stateful phases for the roles,
see ``tests/schemathesis.toml``) and run a few at a time. Afterwards the server's log must be JSON
lines only, with no 5xx.

The figures (operations and test cases per role) are written to ``schemathesis-summary.json``
in the test's folder and printed; ``docs/api.md`` quotes them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, RunningServer, write_batch

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

MAX_EXAMPLES = 5
PARALLEL = 3
CONFIG = REPO / "tests" / "schemathesis.toml"
ROLES = ("admin", "operator", "reviewer", "analyst", "reid_requester", "reid_approver",
         "auditor", "uploader")


def role_operations(app: Any) -> dict[str, list[str]]:
    """``{"operator": ["GET /api/v1/jobs", …], …, "none": [every operation]}`` from the
    routes' own role declarations."""
    from linkage_service.api.deps import api_routes, route_roles

    out: dict[str, list[str]] = {role: [] for role in (*ROLES, "none")}
    for path, methods, route in api_routes(app):
        if not path.startswith("/api/") or not route.include_in_schema:
            continue
        roles = route_roles(route)
        for method in sorted(methods - {"HEAD"}):
            name = f"{method} {path}"
            out["none"].append(name)
            for role in ROLES:
                if roles is not None and role in roles:  # public ones: run "none" has them
                    out[role].append(name)
    return out


def _bank_with_tokens(db_url: str, keys: Path) -> tuple[dict[str, str], Any]:
    """Migrate, register reta/sistra/care and create one token per role (in-process: the
    server under test is the separate process)."""
    from sqlmodel import Session

    from client_sdk.keys import load_linkage_kcv
    from linkage_service.app import create_app
    from linkage_service.auth import create_token
    from linkage_service.models import SourceCreate
    from linkage_service.settings import Settings
    from linkage_service.store.sources import register_source
    from vinculo_common.keyfiles import KeyDir

    app = create_app(Settings(database_url=db_url))
    tokens: dict[str, str] = {}
    with Session(app.state.engine) as session:
        for source in ("reta", "sistra", "care"):
            paths = KeyDir(keys).source(source)
            register_source(session, source=SourceCreate(
                name=source, secret_check=load_linkage_kcv(keys),
                signing_public_key_pem=paths.signing_pub.read_text(),
                box_public_key_pem=paths.box_pub.read_text()))
        for role in ROLES:
            token, _row = create_token(session, role=role,
                                       source="reta" if role == "uploader" else None,
                                       user_label=f"fuzz.{role}")
            tokens[role] = token
        session.commit()
    app.state.engine.dispose()
    return tokens, app


def _run(url: str, role: str, operations: list[str], token: str | None,
         out: Path) -> dict[str, Any]:
    report = out / f"schemathesis-{role}.json"
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
            f"{url}/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
            "--seed", "20261203", "--workers", "1", "--no-color", "--warnings", "off",
            "--generation-database", "none", "--request-timeout", "180",
            # Hypothesis' own "generation too slow" guard trips on a loaded shared machine; it
            # judges the data generator, not the API.
            "--suppress-health-check", "too_slow",
            "--report", "json", "--report-json-path", str(report)]
    if token is not None:
        args += ["--header", f"Authorization: Bearer {token}"]
    else:  # every operation answers 401 before reading anything: sampling is enough
        args += ["--phases", "fuzzing"]
    for name in operations:
        args += ["--include-name", name]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False,
                          cwd=out, env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    summary: dict[str, Any] = {"role": role, "exit": done.returncode, "output": done.stdout[-6000:]}
    if report.is_file():
        data = json.loads(report.read_text())
        summary.update(operations=len(operations), test_cases=data["test_cases"]["generated"],
                       failures=data["test_cases"]["with_failures"],
                       errors=data["test_cases"]["errored"], kinds=data["failures"],
                       seconds=round(data["running_time"], 1))
    return summary


def test_schemathesis_every_role_and_none(
    keys_dir: Path, tmp_path: Path, start_server: Callable[..., RunningServer],
) -> None:
    db_url = f"sqlite:///{tmp_path / 'bank.db'}"
    tokens, app = _bank_with_tokens(db_url, keys_dir)
    server = start_server(db_url)
    # Something to read: one stored batch (so ids and lists are not all empty).
    import httpx

    batch = write_batch(tmp_path / "reta.vnb", keys=keys_dir, source="reta",
                        refs=[bytes([7, i]) + bytes(30) for i in range(5)])
    stored = httpx.post(f"{server.url}/api/v1/uploads", content=batch.read_bytes(), timeout=60,
                        headers={"Authorization": f"Bearer {tokens['uploader']}",
                                 "Content-Type": "application/octet-stream"})
    assert stored.status_code == 201, stored.text

    operations = role_operations(app)
    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = list(pool.map(
            lambda role: _run(server.url, role, operations[role], tokens.get(role), tmp_path),
            [*ROLES, "none"]))

    table = [{k: r.get(k) for k in ("role", "operations", "test_cases", "failures", "errors",
                                     "seconds")} for r in runs]
    (tmp_path / "schemathesis-summary.json").write_text(json.dumps(table, indent=1))
    print("\nschemathesis:", json.dumps(table))
    for run in runs:
        assert "test_cases" in run, f"{run['role']}: sin informe de schemathesis\n{run['output']}"
        assert run["test_cases"] > 0, run
        assert run["failures"] == 0 and run["errors"] == 0 and run["exit"] == 0, \
            f"{run['role']}: {run['kinds']}\n{run['output']}"

    # The server's log: one JSON object per line, and no server error.
    lines = server.stderr_path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert not [e for e in events if int(e.get("status", 0)) >= 500]
    assert not [e for e in events if e.get("level") in ("error", "critical")]
