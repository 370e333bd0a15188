"""The same contract for both ArtifactStore backends: local directory and S3 (moto's server)."""

import hashlib
import os
import secrets

import pytest
from moto.server import ThreadedMotoServer

from services.common.artifacts import ArtifactNotFound, LocalArtifactStore, S3ArtifactStore
from tests.support import free_port


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, s3_endpoint):
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    # A bucket of this test's own keeps tests independent on the shared server.
    return S3ArtifactStore(s3_endpoint, f"tf-{secrets.token_hex(6)}", "testing", "testing")


def test_put_get_list_delete_round_trip(store):
    store.put_bytes("datasets/a/raw", b"hello")
    store.put_bytes("datasets/a/canonical.jsonl", b'{"messages": []}\n')
    store.put_bytes("models/m/config.json", b"{}")

    assert store.get_bytes("datasets/a/raw") == b"hello"
    assert [o.key for o in store.list("datasets/")] == ["datasets/a/canonical.jsonl",
                                                        "datasets/a/raw"]
    assert store.stat("datasets/a/raw").size == 5
    assert store.exists("models/m/config.json")

    store.delete("datasets/a/raw")
    assert not store.exists("datasets/a/raw")
    with pytest.raises(ArtifactNotFound):
        store.get_bytes("datasets/a/raw")
    store.delete("datasets/a/raw")  # deleting twice is not an error


def test_missing_object_raises_artifact_not_found(store):
    with pytest.raises(ArtifactNotFound):
        store.stat("nothing/here")
    with pytest.raises(ArtifactNotFound):
        store.get_dir("nothing", "/tmp/unused")


def test_file_over_20_mb_uploads_in_parts_and_downloads_identical(store, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(21):
            f.write(os.urandom(1024 * 1024))
    store.put_file("checkpoints/big.bin", src)

    dst = tmp_path / "back.bin"
    store.get_file("checkpoints/big.bin", dst)
    assert store.stat("checkpoints/big.bin").size == 21 * 1024 * 1024
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


def test_directory_round_trip_keeps_relative_paths(store, tmp_path):
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text("{}")
    (src / "sub" / "weights.bin").write_bytes(b"\x00" * 100)

    assert store.put_dir("models/x", src) == 2
    assert store.get_dir("models/x", tmp_path / "copy") == 2
    assert (tmp_path / "copy" / "sub" / "weights.bin").read_bytes() == b"\x00" * 100
    assert store.delete_prefix("models/x/") == 2
    assert store.list("models/x/") == []


def test_local_store_refuses_keys_that_leave_its_root(tmp_path):
    store = LocalArtifactStore(tmp_path / "root")
    with pytest.raises(ValueError, match="leaves the store"):
        store.put_bytes("../escape", b"x")
