"""One behavioural suite for every object store: the local folder and S3 (moto's real HTTP server)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anfl_assets.domain.objects import LocalObjectStore, S3ObjectStore, open_object_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's standalone server: a real S3 HTTP endpoint on loopback."""
    server = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
    if server is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(var, value)
    import boto3

    bucket = f"anfl-{os.getpid()}-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return open_object_store(f"s3://{bucket}/estate", endpoint_url=endpoint)


def test_put_get_list_delete_round_trip(store):
    payload = bytes(range(256)) * 1000
    uri = store.put_bytes("inventory/svc/files.parquet", payload)
    assert uri.endswith("/inventory/svc/files.parquet")
    store.put_bytes("inventory/other/files.parquet", b"x")
    store.put_bytes("sbom/svc.json", b"{}")
    assert store.get_bytes("inventory/svc/files.parquet") == payload
    assert store.exists("sbom/svc.json") and not store.exists("sbom/missing.json")
    assert store.list_keys("inventory/") == ["inventory/other/files.parquet", "inventory/svc/files.parquet"]
    assert len(store.list_keys()) == 3
    store.put_bytes("sbom/svc.json", b'{"v": 2}')  # overwrite
    assert store.get_bytes("sbom/svc.json") == b'{"v": 2}'
    store.delete("sbom/svc.json")
    assert not store.exists("sbom/svc.json")
    with pytest.raises(KeyError):
        store.get_bytes("sbom/svc.json")


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "./a"])
def test_keys_cannot_escape(store, bad):
    with pytest.raises(ValueError):
        store.put_bytes(bad, b"x")


def test_local_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    store.put_bytes("a/b.bin", b"1" * 10)
    store.put_bytes("a/b.bin", b"2" * 10)
    assert sorted(p.name for p in (tmp_path / "objects" / "a").iterdir()) == ["b.bin"]
    assert isinstance(open_object_store((tmp_path / "o").as_uri()), LocalObjectStore)
    assert isinstance(open_object_store(str(tmp_path / "o")), LocalObjectStore)
    with pytest.raises(ValueError, match="unsupported"):
        open_object_store("gs://bucket")
    assert Path(store.url[len("file://"):]) == (tmp_path / "objects").resolve()
