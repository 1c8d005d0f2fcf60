"""A real ``vinculo serve`` over HTTP, on SQLite and PostgreSQL, driven by the real commands."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from client_sdk.api_client import ServiceClient
from vinculo_common.errors import ServiceError


def test_serve_admin_and_upload_end_to_end(
    db_url: str, keys_dir: Path, make_batch: Any, start_server: Any, tmp_path: Path,
    vinculo: Any,
) -> None:
    env = {} if db_url.startswith("sqlite") else {"VINCULO_DATA_DIR": str(tmp_path)}
    assert "revisión" in vinculo("admin", "migrate", "--db", db_url, env=env).stdout
    for source in ("reta", "sistra"):
        added = vinculo("admin", "source", "add", "--db", db_url, "--source", source,
                            "--keys", str(keys_dir), env=env)
        assert f"fuente {source} registrada" in added.stdout
    token = vinculo("admin", "token", "create", "--db", db_url, "--role", "uploader",
                        "--source", "reta", "--user", "carga.reta", env=env).stdout.split()[-1]
    operator = vinculo("admin", "token", "create", "--db", db_url, "--role", "operator",
                           env=env).stdout.split()[-1]
    assert token.startswith("vnc_") and operator.startswith("vnc_")

    server = start_server(db_url, env=env)
    batch = make_batch("reta", [bytes([1, i]) + bytes(30) for i in range(20)])
    first = vinculo("upload", str(batch), "--server", server.url, "--token", token)
    stored = json.loads(first.stdout)
    assert stored["created"] is True and stored["record_count"] == 20
    second = json.loads(vinculo("upload", str(batch), "--server", server.url,
                                    "--token", token).stdout)
    assert second["created"] is False and second["id"] == stored["id"]
    refused = vinculo("upload", str(make_batch("reta", [bytes(32)], signing_source="sistra")),
                          "--server", server.url, "--token", token, check=False)
    assert refused.returncode != 0 and "firma" in refused.stderr

    with ServiceClient(server.url, operator) as client:
        assert client.health()["status"] == "ok"
        assert client.get(f"/uploads/{stored['id']}")["status"] == "stored"
        with pytest.raises(ServiceError) as denied:
            client.upload(batch)
        assert denied.value.status == 403
    public = httpx.get(server.url + "/api/v1/service/public-key").json()
    key_file = (Path(db_url.removeprefix("sqlite:///") + ".service-key")
                if db_url.startswith("sqlite") else tmp_path / "service.key")
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert public["algorithm"] == "Ed25519" and len(public["key_id"]) == 16
    events = [json.loads(line) for line in server.stderr_path.read_text().splitlines()]
    assert any(e["event"] == "service.listening" and e["url"].startswith("http://127.0.0.1")
               for e in events)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_source_add_reads_only_public_files(
    db_url: str, keys_dir: Path, tmp_path: Path, vinculo: Any
) -> None:
    keys = tmp_path / "keys"
    shutil.copytree(keys_dir, keys)
    (keys / "sources" / "reta" / "signing.pub").unlink()
    for private in keys.rglob("*.key"):
        if private.name != "signing.key":
            private.unlink()  # nothing private is needed: removing it changes nothing
    ok = vinculo("admin", "source", "add", "--db", db_url, "--source", "sistra",
                     "--keys", str(keys))
    assert "registrada" in ok.stdout
    missing = vinculo("admin", "source", "add", "--db", db_url, "--source", "reta",
                          "--keys", str(keys), check=False)
    assert missing.returncode != 0
    assert "signing.pub" in missing.stderr and "privada" in missing.stderr
    uploader = vinculo("admin", "token", "create", "--db", db_url, "--role", "uploader",
                           check=False)
    assert uploader.returncode != 0 and "--source" in uploader.stderr


def test_serve_refuses_unreachable_server_cleanly() -> None:
    with ServiceClient("http://127.0.0.1:9", "vnc_x") as client, pytest.raises(ServiceError) as e:
        client.health()
    assert e.value.status == 0 and "no se pudo conectar" in str(e.value)
