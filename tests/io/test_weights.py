"""Weights I/O: atomic writes, sha256, safetensors/torch loading by URI, and loading into modules."""

from __future__ import annotations

import hashlib
import uuid

import fsspec
import pytest
import torch
from torch import nn

from zoo.errors import OfflineError, WeightsError
from zoo.io.atomic import atomic_path, atomic_write
from zoo.io.uri import cache_path, offline, resolve
from zoo.io.weights import (
    load_safetensors,
    load_state_dict_into,
    load_torch_weights,
    read_safetensors_metadata,
    save_safetensors,
    sha256_file,
    verify_sha256,
)


@pytest.fixture
def memory_dir():
    """A unique memory:// directory, removed after the test."""
    root = f"zoo-test-{uuid.uuid4().hex}"
    yield f"memory://{root}"
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "proj.weight": torch.randn(3, 4, generator=generator),
        "proj.bias": torch.randn(3, generator=generator),
        "steps": torch.arange(5),
    }


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), name


# --- atomic writes ------------------------------------------------------------------------------------


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    with atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("new")
        assert not target.exists()  # invisible until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_atomic_write_keeps_old_file_when_body_raises(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target) as handle:
            handle.write(b"partial")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # temporary file removed


def test_atomic_path_removes_temp_on_error(tmp_path):
    target = tmp_path / "w.safetensors"
    with pytest.raises(ValueError):
        with atomic_path(target) as temp:
            temp.write_bytes(b"x")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


# --- checksums ----------------------------------------------------------------------------------------


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    data = bytes(range(256)) * 1000
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path, chunk_bytes=4096) == hashlib.sha256(data).hexdigest()


def test_checksum_mismatch_names_both_hashes(tmp_path):
    path = tmp_path / "w.safetensors"
    actual = save_safetensors(_tensors(), path)
    wrong = "0" * 64
    with pytest.raises(WeightsError, match=f"mismatch: expected {wrong}, got {actual}"):
        load_safetensors(str(path), sha256=wrong)
    verify_sha256(path, "SHA256:" + actual.upper())  # prefix and case are accepted
    with pytest.raises(WeightsError, match="64 hex digits"):
        verify_sha256(path, "abc")


# --- save / load --------------------------------------------------------------------------------------


def test_local_round_trip_with_metadata_and_checksum(tmp_path):
    path = tmp_path / "nested" / "w.safetensors"
    digest = save_safetensors(_tensors(), path, metadata={"format": "pt", "model": "toy"})
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    _assert_same(load_safetensors(f"file://{path}", sha256=digest), _tensors())
    assert read_safetensors_metadata(str(path)) == {"format": "pt", "model": "toy"}
    assert [p.name for p in path.parent.iterdir()] == ["w.safetensors"]


def test_memory_round_trip_reuses_the_cached_copy(memory_dir, monkeypatch):
    uri = f"{memory_dir}/model/w.safetensors"
    digest = save_safetensors(_tensors(), uri)
    assert fsspec.filesystem("memory").ls(memory_dir + "/model", detail=False) == [uri[len("memory:/") :]]
    _assert_same(load_safetensors(uri, sha256=digest), _tensors())
    assert sha256_file(cache_path(uri)) == digest

    monkeypatch.setattr(fsspec.core, "url_to_fs", lambda *a, **k: pytest.fail("fetched again"))
    _assert_same(load_safetensors(uri, sha256=digest), _tensors())


def test_saving_again_invalidates_the_cached_copy(memory_dir):
    uri = f"{memory_dir}/w.safetensors"
    save_safetensors(_tensors(0), uri)
    _assert_same(load_safetensors(uri), _tensors(0))
    save_safetensors(_tensors(1), uri)
    _assert_same(load_safetensors(uri), _tensors(1))


def test_checksum_mismatch_on_a_stale_cache_fetches_once_more(memory_dir):
    uri = f"{memory_dir}/w.safetensors"
    save_safetensors(_tensors(0), uri)
    resolve(uri)  # cache the old content
    other = f"{memory_dir}/other.safetensors"
    new_digest = save_safetensors(_tensors(1), other)
    fsspec.filesystem("memory").mv(other[len("memory://") :], uri[len("memory://") :])  # behind the cache's back
    _assert_same(load_safetensors(uri, sha256=new_digest), _tensors(1))


def test_save_without_filesystem_move_writes_directly(memory_dir, monkeypatch):
    from fsspec.implementations.memory import MemoryFileSystem

    def no_move(self, *args, **kwargs):
        raise NotImplementedError

    monkeypatch.setattr(MemoryFileSystem, "mv", no_move)
    uri = f"{memory_dir}/w.safetensors"
    digest = save_safetensors(_tensors(), uri)
    assert fsspec.filesystem("memory").ls(memory_dir, detail=False) == [uri[len("memory:/") :]]
    _assert_same(load_safetensors(uri, sha256=digest), _tensors())


def test_save_to_remote_while_offline_raises_without_fsspec(monkeypatch):
    monkeypatch.setattr(fsspec.core, "url_to_fs", lambda *a, **k: pytest.fail("network touched"))
    with offline(), pytest.raises(OfflineError, match="cannot upload"):
        save_safetensors(_tensors(), "s3://bucket/w.safetensors")


def test_garbage_file_is_a_weights_error(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_safetensors(str(path))


# --- torch.load(weights_only=True) --------------------------------------------------------------------


class _Custom:
    """A class a weights_only unpickler must refuse."""

    def __init__(self) -> None:
        self.payload = 1


def test_pt_file_loads_tensors_and_lightning_state_dict(tmp_path):
    plain, ckpt = tmp_path / "w.pt", tmp_path / "last.ckpt"
    torch.save(_tensors(), plain)
    torch.save({"state_dict": _tensors(), "epoch": 3, "global_step": 10}, ckpt)
    _assert_same(load_safetensors(str(plain), sha256=sha256_file(plain)), _tensors())
    _assert_same(load_torch_weights(f"file://{ckpt}"), _tensors())


def test_pickle_with_custom_class_is_rejected(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "obj": _Custom()}, path)
    with pytest.raises(WeightsError, match="weights_only=True"):
        load_safetensors(str(path))


def test_pt_with_non_tensor_entries_is_rejected(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"weight": torch.zeros(2), "lr": 0.1}, path)
    with pytest.raises(WeightsError, match="not tensors: lr"):
        load_torch_weights(str(path))


# --- load_state_dict_into -----------------------------------------------------------------------------


def _toy() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))


def test_load_into_module_copies_values():
    source, target = _toy(), _toy()
    load_state_dict_into(target, source.state_dict())
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor)


def test_key_problems_are_listed_in_one_error():
    state = _toy().state_dict()
    del state["1.bias"]
    state["0.weight"] = torch.zeros(3, 5)
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError) as caught:
        load_state_dict_into(_toy(), state)
    message = str(caught.value)
    assert "shape mismatches (1): 0.weight: file (3, 5) vs model (3, 4)" in message
    assert "missing from the weights (1): 1.bias" in message
    assert "unexpected in the weights (1): extra.weight" in message


def test_long_key_lists_are_truncated_with_a_count():
    state = {f"junk{i}": torch.zeros(1) for i in range(25)} | _toy().state_dict()
    with pytest.raises(WeightsError, match=r"unexpected in the weights \(25\): junk0, .*junk9, \.\.\. and 15 more"):
        load_state_dict_into(_toy(), state)


def test_non_strict_ignores_key_sets_but_not_shapes():
    state = _toy().state_dict()
    del state["1.bias"]
    state["extra"] = torch.zeros(1)
    result = load_state_dict_into(_toy(), state, strict=False)
    assert result.missing_keys == ["1.bias"] and result.unexpected_keys == ["extra"]
    state["0.bias"] = torch.zeros(7)
    with pytest.raises(WeightsError, match="0.bias: file"):
        load_state_dict_into(_toy(), state, strict=False)


def test_prefix_selects_and_strips_a_sub_state_dict():
    source = _toy()
    full = {f"backbone.{k}": v for k, v in source.state_dict().items()} | {"vae.w": torch.zeros(1)}
    target = _toy()
    load_state_dict_into(target, full, prefix="backbone.")
    assert torch.equal(target[0].weight, source[0].weight)
    with pytest.raises(WeightsError, match=r"prefix 'decoder\.', 0 of 5 entries"):
        load_state_dict_into(_toy(), full, prefix="decoder.")


def test_meta_module_is_materialised_with_assign():
    source = _toy()
    with torch.device("meta"):
        target = _toy()
    state = {k: v.to(torch.float64) for k, v in source.state_dict().items()}
    load_state_dict_into(target, state)
    params = dict(target.named_parameters())
    assert all(not p.is_meta and p.dtype == torch.float32 and p.requires_grad for p in params.values())
    assert isinstance(target[0].weight, nn.Parameter)
    assert torch.equal(params["0.weight"], source[0].weight)
    assert torch.allclose(target(torch.ones(2, 4)), source(torch.ones(2, 4)))
