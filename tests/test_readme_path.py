"""The README's walkthrough, run exactly as written (real processes, a real ``vinculo serve``).

The block between ``<!-- readme-path:start -->`` and ``<!-- readme-path:end -->`` runs in bash
with one change: port 8000 becomes a free port. It must end in a re-identification package
that ``vinculo reid open --keys claves`` opens (the RETA records of the requested person) and a
log that ``vinculo audit verify --keys claves`` verifies with signatures checked: the service
signs with the ceremony's key, not one of its own.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def readme_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- readme-path:start -->\s*```sh\n(.*?)```\s*<!-- readme-path:end -->",
                      text, re.S)
    assert found, "README.md sin el bloque readme-path"
    return found.group(1)


def test_readme_block_is_the_documented_path() -> None:
    block = readme_block()
    for step in ("vinculo keys init", "vinculo serve --db sqlite:///banco.db --keys claves",
                 "vinculo admin source add", "vinculo upload", "vinculo link",
                 "vinculo reid request", "vinculo reid approve", "vinculo reid fetch",
                 "vinculo reid open $RQ.reta.vrp --source reta --keys claves",
                 "vinculo audit verify --db sqlite:///banco.db --keys claves"):
        assert step in block, step


def test_readme_path_ends_in_an_open_package_and_a_verified_log(tmp_path: Path) -> None:
    assert shutil.which("curl"), "el recorrido del README usa curl"
    port = free_port()
    script = ("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
              + readme_block().replace("8000", str(port)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in [n for n in env if n.startswith("VINCULO_")]:
        env.pop(name)
    # Its own process group, so a timeout also stops the server the script started.
    process = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=1700)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    log = (tmp_path / "servicio.log").read_text(encoding="utf-8") \
        if (tmp_path / "servicio.log").exists() else ""
    assert done.returncode == 0, done.stderr[-4000:] + "\n--- servicio.log\n" + log[-3000:]

    # The package opened: reid open printed the RETA record ids of the requested person.
    with open(tmp_path / "resultados.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    person = rows[0]["person_id"]
    expected = {r["record_id"] for r in rows if r["person_id"] == person}
    printed = set(done.stdout.split())
    assert expected and expected <= printed, (expected, done.stdout[-2000:])
    assert re.search(r"\d+ registros", done.stderr)

    # The log verified, with the checkpoints' signatures checked against the ceremony key.
    verdict = [line for line in done.stdout.splitlines() if "bitácora" in line]
    assert verdict and verdict[-1].startswith("bitácora íntegra"), done.stdout[-2000:]
    assert "firmas verificadas" in verdict[-1]
    assert int(re.search(r"(\d+) checkpoints", verdict[-1]).group(1)) >= 1  # type: ignore[union-attr]

    # The service signed with the ceremony's key, and logged JSON lines only.
    from vinculo_common.crypto import key_id, load_public_key

    ceremony = key_id(load_public_key(tmp_path / "claves" / "service" / "signing.pub"))
    events = [json.loads(line) for line in log.splitlines()]
    started = [e for e in events if e["event"] == "service.start"]
    assert started and started[0]["key_id"] == ceremony
    assert not (tmp_path / "banco.db.service-key").exists()
