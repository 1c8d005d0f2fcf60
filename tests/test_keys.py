"""Key files: layout, modes, refusal to overwrite, passphrase protection, clear load errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from client_sdk import keys as K
from vinculo_common.crypto import secret_check_value
from vinculo_common.errors import ConfigError, Conflict, InputError
from vinculo_common.keyfiles import KeyDir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_layout_with_private_files_0600(tmp_path: Path) -> None:
    files = K.init_keys(keys_dir=tmp_path / "k", sources=["reta", "sistra"])
    kd = KeyDir(tmp_path / "k")
    assert len(files) == 4 + 2 * 5
    for path in files:
        assert path.is_file()
        if path.suffix == ".key":
            assert _mode(path) == 0o600, path
        else:
            assert _mode(path) & 0o077 != 0o077  # public material is ordinary
    secret = K.load_linkage_secret(kd.root)
    assert len(secret) == 32
    assert K.load_linkage_kcv(kd.root) == secret_check_value(secret)
    assert len(K.load_record_ref_key(kd.root, "reta")) == 32
    assert K.load_record_ref_key(kd.root, "reta") != K.load_record_ref_key(kd.root, "sistra")
    signing = K.load_signing_key(kd.root, "reta")
    sig = signing.sign(b"x")
    K.load_signing_public(kd.root, "reta").verify(sig, b"x")
    box = K.load_box_private(kd.root, "sistra")
    assert box.public_key().public_bytes_raw() == \
        K.load_box_public(kd.root, "sistra").public_bytes_raw()
    K.load_service_signing_public(kd.root).verify(
        K.load_service_signing_key(kd.root).sign(b"y"), b"y")


def test_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    K.init_keys(keys_dir=tmp_path, sources=["reta"])
    before = (tmp_path / "linkage_secret.key").read_bytes()
    with pytest.raises(Conflict, match="--force"):
        K.init_keys(keys_dir=tmp_path, sources=["reta"])
    assert (tmp_path / "linkage_secret.key").read_bytes() == before
    K.init_keys(keys_dir=tmp_path, sources=["reta"], force=True)
    assert (tmp_path / "linkage_secret.key").read_bytes() != before
    assert _mode(tmp_path / "linkage_secret.key") == 0o600


def test_passphrase_protected_secret(tmp_path: Path) -> None:
    K.init_keys(keys_dir=tmp_path, sources=["care"], passphrase=b"una frase larga y secreta")
    raw = (tmp_path / "linkage_secret.key").read_text()
    assert '"kdf": "scrypt"' in raw
    with pytest.raises(ConfigError, match="frase de paso"):
        K.load_linkage_secret(tmp_path)
    with pytest.raises(ConfigError, match="incorrecta"):
        K.load_linkage_secret(tmp_path, passphrase=b"otra")
    secret = K.load_linkage_secret(tmp_path, passphrase=b"una frase larga y secreta")
    assert secret_check_value(secret) == K.load_linkage_kcv(tmp_path)


def test_secret_not_matching_its_check_value_is_refused(tmp_path: Path) -> None:
    K.init_keys(keys_dir=tmp_path, sources=["reta"])
    (tmp_path / "linkage_secret.kcv").write_text("0123456789abcdef\n")
    with pytest.raises(ConfigError, match="valor de control"):
        K.load_linkage_secret(tmp_path)


def test_clear_errors_for_missing_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no existe el directorio"):
        K.load_linkage_secret(tmp_path / "nope")
    K.init_keys(keys_dir=tmp_path, sources=["reta"])
    with pytest.raises(ConfigError, match="no hay claves de la fuente 'sistra'"):
        K.load_signing_key(tmp_path, "sistra")
    (tmp_path / "sources" / "reta" / "record_ref.key").write_text("zz")
    with pytest.raises(ConfigError, match="hexadecimal"):
        K.load_record_ref_key(tmp_path, "reta")
    (tmp_path / "sources" / "reta" / "box.key").unlink()
    with pytest.raises(ConfigError, match="falta"):
        K.load_box_private(tmp_path, "reta")
    # a signing key where a box key belongs is refused by type
    (tmp_path / "sources" / "reta" / "box.pub").write_bytes(
        (tmp_path / "sources" / "reta" / "signing.pub").read_bytes())
    with pytest.raises(ConfigError, match="X25519"):
        K.load_box_public(tmp_path, "reta")


def test_source_names_are_checked() -> None:
    assert K.parse_sources("reta,sistra") == ["reta", "sistra"]
    with pytest.raises(InputError):
        K.parse_sources("reta,../etc")
    with pytest.raises(InputError):
        K.parse_sources(" , ")


def test_passphrase_file(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"frase\n")
    assert K.read_passphrase_file(tmp_path / "p") == b"frase"
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(InputError, match="vacío"):
        K.read_passphrase_file(tmp_path / "e")


def test_key_folders_are_private(tmp_path: Path) -> None:
    K.init_keys(keys_dir=tmp_path / "k", sources=["reta"])
    assert _mode(tmp_path / "k") == 0o700
    assert _mode(tmp_path / "k" / "sources" / "reta") == 0o700
