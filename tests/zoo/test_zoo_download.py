"""download_file against a real HTTP server on 127.0.0.1: success, cache, errors, interruption, offline, mirror, concurrency."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from concurrent.futures import ThreadPoolExecutor
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnedaug.zoo import ChecksumError, DownloadError, cache_dir, download_file, file_sha256

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


def leftovers(directory: Path) -> list[str]:
    """Every file in ``directory``: a failed download leaves none, and no download leaves its ``.lock``."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_success_streams_verifies_and_renames(server, tmp_path):
    url = server.add("/w/model.bin", BODY)
    path = download_file(url, sha256=SHA.upper(), dest_dir=tmp_path / "d", progress=False)
    assert path == tmp_path / "d" / "model.bin"
    assert path.read_bytes() == BODY
    assert leftovers(path.parent) == ["model.bin"]
    assert server.gets["/w/model.bin"] == 1


def test_default_dest_is_cache_dir_and_filename_override(server):
    url = server.add("/w/x.bin", BODY)
    path = download_file(url, filename="renamed.bin", progress=False)
    assert path == cache_dir() / "renamed.bin" and file_sha256(path) == SHA


def test_cache_hit_needs_no_network(server, tmp_path):
    url = server.add("/w/model.bin", BODY)
    first = download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False)
    server.stop()
    assert download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False) == first
    assert download_file(url, dest_dir=tmp_path, progress=False) == first
    assert server.gets["/w/model.bin"] == 1


def test_existing_file_with_wrong_digest_is_refused_without_network(server, tmp_path):
    url = server.add("/w/model.bin", BODY)
    (tmp_path / "model.bin").write_bytes(b"not the model")
    with pytest.raises(ChecksumError, match=SHA):
        download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False)
    assert server.gets["/w/model.bin"] == 0


def test_no_lock_file_is_left_after_success_or_failure(server, tmp_path):
    url = server.add("/w/model.bin", BODY)
    download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False)
    assert not (tmp_path / "model.bin.lock").exists()
    with pytest.raises(ChecksumError):
        download_file(server.add("/w/other.bin", BODY), sha256="0" * 64, dest_dir=tmp_path, progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url("/gone.bin"), dest_dir=tmp_path, progress=False)
    assert leftovers(tmp_path) == ["model.bin"]


def test_404_names_url_and_status(server, tmp_path):
    url = server.url("/missing.bin")
    with pytest.raises(DownloadError, match=r"missing\.bin.*HTTP 404"):
        download_file(url, dest_dir=tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_corrupted_body_is_rejected_with_both_digests(server, tmp_path):
    bad = BODY[:-1] + bytes([BODY[-1] ^ 1])
    url = server.add("/w/model.bin", bad)
    with pytest.raises(ChecksumError) as info:
        download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False)
    assert SHA in str(info.value) and hashlib.sha256(bad).hexdigest() in str(info.value)
    assert leftovers(tmp_path) == []


def test_connection_cut_mid_file_leaves_nothing_and_a_retry_succeeds(server, tmp_path):
    url = server.add("/w/model.bin", BODY, cut=True)
    with pytest.raises(DownloadError, match=f"cut off after {len(BODY) // 2} of {len(BODY)} bytes"):
        download_file(url, dest_dir=tmp_path, progress=False)  # no digest: only Content-Length reveals the cut
    assert leftovers(tmp_path) == []
    server.add("/w/model.bin", BODY)
    assert download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False).read_bytes() == BODY


def test_timeout(server, tmp_path):
    url = server.add("/slow.bin", BODY, hang=1.0)
    with pytest.raises(DownloadError, match="slow.bin"):
        download_file(url, dest_dir=tmp_path, progress=False, timeout=0.2)
    assert leftovers(tmp_path) == []


def test_offline_never_touches_network_and_says_where_to_put_the_file(server, tmp_path, monkeypatch):
    url = server.add("/w/model.bin", BODY)
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "1")
    with pytest.raises(DownloadError) as info:
        download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False)
    assert str(tmp_path / "model.bin") in str(info.value) and url in str(info.value)
    assert server.gets["/w/model.bin"] == 0
    (tmp_path / "model.bin").write_bytes(BODY)
    assert download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False) == tmp_path / "model.bin"


def test_mirror_replaces_the_url_base(server, tmp_path, monkeypatch):
    server.add("/mirror/model.bin", BODY)
    monkeypatch.setenv("LEARNEDAUG_MIRROR", server.url("/mirror"))  # trailing slash optional
    dead = "http://127.0.0.1:9/releases/download/v1/model.bin?raw=1"  # discard port: nothing listens
    path = download_file(dead, sha256=SHA, dest_dir=tmp_path, progress=False)
    assert path.name == "model.bin" and path.read_bytes() == BODY
    assert server.gets == {"/mirror/model.bin": 1}


def test_file_urls_work(tmp_path):
    src = tmp_path / "src" / "model.bin"
    src.parent.mkdir()
    src.write_bytes(BODY)
    assert download_file(src.as_uri(), sha256=SHA, dest_dir=tmp_path / "d", progress=False).read_bytes() == BODY


@given(body=st.binary(max_size=4096))
def test_any_body_arrives_intact(body, tmp_path_factory):
    root = tmp_path_factory.mktemp("body")
    (root / "src.bin").write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    path = download_file((root / "src.bin").as_uri(), sha256=digest, filename="dst.bin", dest_dir=root, progress=False)
    assert path == root / "dst.bin" and path.read_bytes() == body


def _fetch_after_barrier(barrier, url: str, sha: str, dest: str) -> None:
    barrier.wait(timeout=60)
    download_file(url, sha256=sha, dest_dir=dest, progress=False)


def test_four_processes_download_once(server, tmp_path):
    url = server.add("/w/model.bin", BODY, pause=0.3)  # the first transfer is still running when the others ask
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_fetch_after_barrier, args=(barrier, url, SHA, str(tmp_path))) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert server.gets["/w/model.bin"] == 1
    assert (tmp_path / "model.bin").read_bytes() == BODY and leftovers(tmp_path) == ["model.bin"]


def test_four_threads_download_once(server, tmp_path):
    url = server.add("/w/model.bin", BODY, pause=0.2)
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: download_file(url, sha256=SHA, dest_dir=tmp_path, progress=False), range(4)))
    assert paths == [tmp_path / "model.bin"] * 4 and server.gets["/w/model.bin"] == 1
    assert leftovers(tmp_path) == ["model.bin"]


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("LEARNEDAUG_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("LEARNEDAUG_HOME")
    assert cache_dir() == tmp_path / "x" / "learnedaug"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert cache_dir() == tmp_path / "h" / ".cache" / "learnedaug"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "ftp://host/x.bin"}, "url must be"),
        ({"url": "http://host/x.bin", "sha256": "abc"}, "sha256 must be 64"),
        ({"url": "http://host/x.bin", "filename": "../x.bin"}, "filename must be a plain"),
        ({"url": "http://host/"}, "filename must be a plain"),
        ({"url": "http://host/x.bin", "timeout": 0}, "timeout must be > 0"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match, tmp_path):
    url = kwargs.pop("url")
    with pytest.raises(ValueError, match=match):
        download_file(url, dest_dir=tmp_path, progress=False, **kwargs)


def test_bad_env_values_are_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="LEARNEDAUG_OFFLINE.*'maybe'"):
        download_file("http://127.0.0.1:9/x.bin", dest_dir=tmp_path, progress=False)
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "0")
    monkeypatch.setenv("LEARNEDAUG_MIRROR", "mirror.example.com/base")
    with pytest.raises(ValueError, match="LEARNEDAUG_MIRROR"):
        download_file("http://127.0.0.1:9/x.bin", dest_dir=tmp_path, progress=False)
