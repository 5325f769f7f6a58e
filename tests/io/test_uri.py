"""URI resolution: zoo://, paths, file://, memory:// caching, hf:// and the offline switch."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import huggingface_hub
import pytest

import zoo.errors
from zoo.errors import OfflineError, WeightsError
from zoo.io import uri as uri_mod
from zoo.io.uri import HubFile, cache_path, is_offline, is_remote, offline, package_root, parse_hf_uri, resolve


@pytest.fixture
def memory_uri():
    """A unique memory:// file holding 5 bytes, removed after the test."""
    uri = f"memory://zoo-test-{uuid.uuid4().hex}/blob.bin"
    with fsspec.open(uri, "wb") as handle:
        handle.write(b"hello")
    yield uri
    fsspec.filesystem("memory").rm(uri[len("memory://") :].rsplit("/", 1)[0], recursive=True)


def _forbid(*_args, **_kwargs):
    pytest.fail("the network layer was called while offline")


# --- local --------------------------------------------------------------------------------------------


def test_zoo_uri_resolves_to_the_shipped_package_file():
    assert package_root() == Path(zoo.errors.__file__).resolve().parent
    assert resolve("zoo://errors.py") == Path(zoo.errors.__file__).resolve()
    assert resolve("zoo://io/uri.py").read_text() == Path(uri_mod.__file__).read_text()


def test_missing_zoo_file_names_the_path():
    expected = r"zoo://weights/none\.safetensors: .*zoo/weights/none\.safetensors does not exist"
    with pytest.raises(WeightsError, match=expected):
        resolve("zoo://weights/none.safetensors")
    with pytest.raises(WeightsError, match="outside the zoo package"):
        resolve("zoo://../../etc/passwd")


def test_plain_path_file_uri_and_home_expansion(tmp_path, monkeypatch):
    target = tmp_path / "w.safetensors"
    target.write_bytes(b"x")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve(str(target)) == target
    assert resolve(f"file://{target}") == target
    assert resolve("~/w.safetensors") == target
    assert resolve("file://~/w.safetensors") == target


def test_missing_or_directory_local_path_raises(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        resolve(str(tmp_path / "absent.pt"))
    with pytest.raises(WeightsError, match="is a directory"):
        resolve(f"file://{tmp_path}")


# --- fsspec -------------------------------------------------------------------------------------------


def test_memory_uri_is_copied_into_the_cache_once(memory_uri, tmp_path, monkeypatch):
    first = resolve(memory_uri)
    assert first == cache_path(memory_uri) and first.is_relative_to(tmp_path / "cache")
    assert first.name == "blob.bin" and first.read_bytes() == b"hello"
    assert not list(first.parent.glob("*.tmp"))  # the temporary download name is gone

    monkeypatch.setattr(fsspec.core, "url_to_fs", _forbid)  # a second fetch would fail the test
    assert resolve(memory_uri) == first


def test_refresh_fetches_again(memory_uri):
    resolve(memory_uri)
    with fsspec.open(memory_uri, "wb") as handle:
        handle.write(b"changed")
    assert resolve(memory_uri).read_bytes() == b"hello"  # URIs are treated as immutable
    assert resolve(memory_uri, refresh=True).read_bytes() == b"changed"


def test_explicit_cache_dir_is_used(memory_uri, tmp_path):
    path = resolve(memory_uri, cache_dir=tmp_path / "elsewhere")
    assert path.is_relative_to(tmp_path / "elsewhere") and path.read_bytes() == b"hello"


def test_missing_memory_file_and_unknown_protocol_raise():
    with pytest.raises(WeightsError, match="file not found"):
        resolve(f"memory://zoo-test-{uuid.uuid4().hex}/absent.bin")
    with pytest.raises(WeightsError, match=r"unknown protocol.*Known fsspec protocols: .*memory"):
        resolve("nosuchproto://bucket/w.safetensors")


def test_remote_and_local_protocols():
    assert not is_remote("/tmp/x") and not is_remote("memory://x") and not is_remote("simplecache::memory://x")
    assert is_remote("s3://b/k") and is_remote("https://h/x") and is_remote("zip://w.pt::gs://b/a.zip")


# --- the offline switch -------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("1", True), ("TRUE", True), ("on", True), ("0", False), ("", False)])
@pytest.mark.parametrize("name", ["ZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_env_values(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    assert is_offline() is expected


def test_offline_context_nests_and_restores():
    assert not is_offline()
    with offline():
        with offline():
            assert is_offline()
        assert is_offline()
    assert not is_offline()


def test_https_offline_raises_without_touching_fsspec(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(fsspec.core, "url_to_fs", _forbid)
    monkeypatch.setattr(fsspec, "open", _forbid)
    monkeypatch.setattr(fsspec, "filesystem", _forbid)
    with pytest.raises(OfflineError, match=r"https://example\.com/w\.safetensors: .*HF_HUB_OFFLINE=1"):
        resolve("https://example.com/w.safetensors")


def test_offline_serves_an_existing_cached_copy(memory_uri, monkeypatch):
    remote = "https://example.com/model/w.safetensors"
    cached = cache_path(remote)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"cached")
    with offline():
        monkeypatch.setattr(fsspec.core, "url_to_fs", _forbid)
        assert resolve(remote).read_bytes() == b"cached"


def test_memory_uri_works_offline(memory_uri, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "yes")
    assert resolve(memory_uri).read_bytes() == b"hello"


# --- hf:// --------------------------------------------------------------------------------------------


def test_parse_hf_uri_forms():
    assert parse_hf_uri("hf://org/repo/sub/w.safetensors") == HubFile("org/repo", "sub/w.safetensors")
    assert parse_hf_uri("hf://org/repo/w.safetensors@v1.0") == HubFile("org/repo", "w.safetensors", "v1.0")
    assert parse_hf_uri("hf://org/repo/w.pt@refs/pr/1").revision == "refs/pr/1"
    assert parse_hf_uri("hf://org/repo@refs%2Fpr%2F2/w.pt") == HubFile("org/repo", "w.pt", "refs/pr/2")
    assert parse_hf_uri("hf://datasets/org/data/x.bin") == HubFile("org/data", "x.bin", None, "dataset")
    for bad in ("hf://org/w.safetensors", "hf://org/repo/w.pt@", "hf:///repo/w.pt"):
        with pytest.raises(WeightsError, match="hf://"):
            parse_hf_uri(bad)


def test_hf_uri_calls_hf_hub_download_with_parsed_fields(monkeypatch, tmp_path):
    calls = []
    local = tmp_path / "w.safetensors"

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs["revision"], kwargs["repo_type"]))
        return str(local)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert resolve("hf://meta/moviegen/tae/w.safetensors@abc123") == local
    assert calls == [("meta/moviegen", "tae/w.safetensors", "abc123", None)]


def test_hf_download_errors_become_weights_errors(monkeypatch):
    from huggingface_hub.errors import EntryNotFoundError

    def missing(*_args, **_kwargs):
        raise EntryNotFoundError("404 no such file")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", missing)
    with pytest.raises(WeightsError, match=r"hf://org/repo/x\.safetensors: .*404 no such file"):
        resolve("hf://org/repo/x.safetensors")


def test_hf_offline_raises_without_calling_hf_hub_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _forbid)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    with pytest.raises(OfflineError, match=r"hf://org/repo/w\.safetensors: not in the Hugging Face cache"):
        resolve("hf://org/repo/w.safetensors")


def test_hf_offline_serves_the_hub_cache(monkeypatch, tmp_path):
    cached = tmp_path / "snapshot" / "w.safetensors"
    seen = {}

    def lookup(repo_id, filename, **kwargs):
        seen.update(repo_id=repo_id, filename=filename, revision=kwargs["revision"])
        return str(cached)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _forbid)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lookup)
    with offline():
        assert resolve("hf://org/repo/w.safetensors@main") == cached
    assert seen == {"repo_id": "org/repo", "filename": "w.safetensors", "revision": "main"}
