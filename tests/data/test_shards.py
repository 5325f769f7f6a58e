"""webdataset shards of mp4 + json samples: writing, listing, reading, splitting, skipping (zoo/data/shards.py)."""

from __future__ import annotations

import io
import json
import uuid

import fsspec
import numpy as np
import pytest
import torch
import webdataset as wds

from zoo.data.shards import (
    ShardDataset,
    ShardReadWarning,
    read_shards,
    register_fsspec_schemes,
    shard_urls,
    write_shards,
)
from zoo.io.video import encode_mp4

T, H, W = 4, 16, 16


@pytest.fixture(scope="module")
def clip_mp4() -> bytes:
    frames = np.zeros((T, H, W, 3), np.uint8)
    frames[..., 0] = np.arange(W, dtype=np.uint8) * 8
    return encode_mp4(frames, fps=8)


@pytest.fixture
def memory_root():
    """A fresh ``memory://`` folder, removed afterwards (the memory filesystem is process-global)."""
    root = f"memory://shards-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def make_samples(mp4: bytes, count: int, prefix: str = "clip") -> list[dict]:
    return [
        {"__key__": f"{prefix}{i:03d}", "mp4": mp4, "json": {"index": i, "caption": f"clip {i}"}, "txt": f"t{i}"}
        for i in range(count)
    ]


def keys_of(dataset) -> list[str]:
    return [sample["key"] for sample in dataset]


def test_write_7_samples_with_maxcount_3_gives_3_shards_and_reads_back_from_a_directory(tmp_path, clip_mp4):
    urls = write_shards(make_samples(clip_mp4, 7), str(tmp_path / "shard-%06d.tar"), maxcount=3)
    assert urls == [str(tmp_path / f"shard-{i:06d}.tar") for i in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"shard-{i:06d}.tar" for i in range(3)]
    assert shard_urls(tmp_path) == urls

    dataset = read_shards(tmp_path)
    samples = list(dataset)
    assert [s["key"] for s in samples] == [f"clip{i:03d}" for i in range(7)]
    assert [s["json"] for s in samples] == [{"index": i, "caption": f"clip {i}"} for i in range(7)]
    for sample in samples:
        assert sample["video"].shape == (3, T, H, W) and sample["video"].dtype == torch.float32
        assert -1.0 <= float(sample["video"].min()) and float(sample["video"].max()) <= 1.0
        assert sample["fps"] == pytest.approx(8.0)
    assert (dataset.stats.samples, dataset.stats.skipped, dataset.stats.read_errors) == (7, 0, 0)

    with wds.WebDataset(urls[2], shardshuffle=False) as raw:  # per-shard count, and the extra "txt" member
        assert [(s["__key__"], s["txt"]) for s in raw] == [("clip006", b"t6")]


def test_write_and_read_through_memory_urls_with_braces_prefix_and_listing(memory_root, clip_mp4):
    urls = write_shards(make_samples(clip_mp4, 5), f"{memory_root}/train/shard-%06d.tar", maxcount=2)
    assert urls == [f"{memory_root}/train/shard-{i:06d}.tar" for i in range(3)]
    assert shard_urls(f"{memory_root}/train/shard-{{000000..000002}}.tar") == urls
    assert shard_urls(f"{memory_root}/train") == urls
    assert shard_urls(f"{memory_root}/train/shard-") == urls
    assert len(shard_urls(f"{memory_root}/train/*.tar")) == 3

    samples = list(read_shards(urls, decode_video=False))
    assert [s["key"] for s in samples] == [f"clip{i:03d}" for i in range(5)]
    assert all(s["mp4"] == clip_mp4 and "video" not in s for s in samples)
    assert [s["json"]["index"] for s in read_shards(f"{memory_root}/train")] == list(range(5))


def test_failure_inside_the_sample_iterator_leaves_only_completed_shards(tmp_path, memory_root, clip_mp4):
    def failing_samples():
        yield from make_samples(clip_mp4, 4)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        write_shards(failing_samples(), str(tmp_path / "shard-%06d.tar"), maxcount=3)
    assert [p.name for p in tmp_path.iterdir()] == ["shard-000000.tar"]  # shard 1 (1 of 3 samples) is gone
    assert keys_of(read_shards(tmp_path)) == ["clip000", "clip001", "clip002"]

    with pytest.raises(RuntimeError, match="source broke"):
        write_shards(failing_samples(), f"{memory_root}/shard-%06d.tar", maxcount=3)
    names = [p.rsplit("/", 1)[-1] for p in fsspec.filesystem("memory").ls(memory_root, detail=False)]
    assert names == ["shard-000000.tar"]


def test_gzip_shards_are_compressed_and_read_back(tmp_path, clip_mp4):
    urls = write_shards(make_samples(clip_mp4, 3), str(tmp_path / "shard-%06d.tar.gz"), maxcount=2)
    with open(urls[0], "rb") as handle:
        assert handle.read(2) == b"\x1f\x8b"  # gzip magic
    assert keys_of(read_shards(tmp_path)) == ["clip000", "clip001", "clip002"]


def test_keys_with_dots_and_malformed_samples_are_rejected(tmp_path, clip_mp4):
    with pytest.raises(ValueError, match=r"'clip\.v1'"):
        write_shards([{"__key__": "clip.v1", "mp4": clip_mp4, "json": {}}], str(tmp_path / "s-%06d.tar"))
    with pytest.raises(ValueError, match="'json' must be a dict"):
        write_shards([{"__key__": "clip", "mp4": clip_mp4, "json": "{}"}], str(tmp_path / "s-%06d.tar"))
    with pytest.raises(ValueError, match="integer field"):
        write_shards([], str(tmp_path / "shard.tar"))
    assert list(tmp_path.iterdir()) == []
    assert write_shards([], str(tmp_path / "s-%06d.tar")) == []  # no samples, no empty shard


def test_corrupt_mp4_bad_json_and_truncated_tar_are_skipped_and_counted(tmp_path, clip_mp4):
    samples = make_samples(clip_mp4, 4)
    samples[1]["mp4"] = b"\x00\x00\x00\x18ftypisom" + b"garbage" * 20  # looks like mp4, does not decode
    write_shards(samples, str(tmp_path / "a-%06d.tar"), maxcount=10)
    with wds.TarWriter(str(tmp_path / "b-000000.tar")) as tar:  # a json member that is not JSON
        tar.write({"__key__": "badjson", "mp4": clip_mp4, "json": b"{not json"})
    truncated = write_shards(make_samples(clip_mp4, 4, prefix="cut"), str(tmp_path / "c-%06d.tar"))[0]
    with open(truncated, "rb") as handle:
        data = handle.read()
    with open(truncated, "wb") as handle:  # cut in the middle of the third sample's mp4
        handle.write(data[: data.index(b"cut002.mp4") + 512 + len(clip_mp4) // 2])

    dataset = read_shards(tmp_path)
    with pytest.warns(ShardReadWarning) as caught:
        keys = keys_of(dataset)
    assert keys == ["clip000", "clip002", "clip003", "cut000", "cut001"]
    assert dataset.stats.samples == 5
    assert dataset.stats.skipped == 3  # clip001 (mp4), badjson (json), cut002 (json read, mp4 cut off)
    assert dataset.stats.read_errors >= 1  # the truncated tar
    messages = " ".join(str(w.message) for w in caught)
    assert "clip001" in messages and "badjson" in messages and "unexpected end of data" in messages


def test_two_ranks_by_two_workers_read_disjoint_shards_covering_everything(tmp_path, clip_mp4, monkeypatch):
    urls = write_shards(make_samples(clip_mp4, 8), str(tmp_path / "shard-%06d.tar"), maxcount=2)
    assert len(urls) == 4
    seen: dict[tuple[int, int], list[str]] = {}
    for rank in range(2):
        for worker in range(2):  # the variables webdataset.utils.pytorch_worker_info reads
            monkeypatch.setenv("RANK", str(rank))
            monkeypatch.setenv("WORLD_SIZE", "2")
            monkeypatch.setenv("WORKER", str(worker))
            monkeypatch.setenv("NUM_WORKERS", "2")
            seen[rank, worker] = keys_of(read_shards(urls, decode_video=False))
    assert all(len(keys) == 2 for keys in seen.values())  # one shard each
    every = [key for keys in seen.values() for key in keys]
    assert sorted(every) == [f"clip{i:03d}" for i in range(8)]  # disjoint (no repeats) and complete

    for name in ("WORKER", "NUM_WORKERS"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("RANK", "0")
    rank0 = set(keys_of(read_shards(urls, decode_video=False)))
    monkeypatch.setenv("RANK", "1")
    rank1 = set(keys_of(read_shards(urls, decode_video=False)))
    assert rank0.isdisjoint(rank1) and len(rank0 | rank1) == 8


def test_dataloader_with_two_workers_reads_each_sample_once(tmp_path, clip_mp4):
    write_shards(make_samples(clip_mp4, 6), str(tmp_path / "shard-%06d.tar"), maxcount=2)  # 3 shards, 2 workers
    loader = torch.utils.data.DataLoader(
        read_shards(tmp_path), batch_size=None, num_workers=2, multiprocessing_context="fork"
    )
    samples = list(loader)
    assert sorted(s["key"] for s in samples) == [f"clip{i:03d}" for i in range(6)]
    assert all(s["video"].shape == (3, T, H, W) for s in samples)


def test_shuffle_is_deterministic_per_seed_and_epoch_and_keeps_every_sample(tmp_path, clip_mp4):
    write_shards(make_samples(clip_mp4, 12), str(tmp_path / "shard-%06d.tar"), maxcount=2)
    ordered = [f"clip{i:03d}" for i in range(12)]
    dataset = ShardDataset(tmp_path, shuffle=4, decode_video=False, seed=3)
    first = keys_of(dataset)
    assert keys_of(dataset) == first and sorted(first) == ordered and first != ordered
    dataset.set_epoch(1)
    second = keys_of(dataset)
    assert sorted(second) == ordered and second != first
    assert keys_of(ShardDataset(tmp_path, shuffle=4, decode_video=False, seed=3, epoch=1)) == second
    with pytest.raises(ValueError, match="shuffle"):
        ShardDataset(tmp_path, shuffle=True)


def test_shard_urls_expands_braces_keeps_lists_and_skips_unfinished_files(tmp_path):
    assert shard_urls("d/s-{000000..000002}.tar") == ["d/s-000000.tar", "d/s-000001.tar", "d/s-000002.tar"]
    assert shard_urls(["x.tar", "y-{0..1}.tar"]) == ["x.tar", "y-0.tar", "y-1.tar"]
    (tmp_path / ".shard-000001.tar.1a2b3c4d.tmp").write_bytes(b"")
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(FileNotFoundError):
        shard_urls(tmp_path)
    (tmp_path / "shard-000000.tar").write_bytes(b"")
    assert shard_urls(f"file://{tmp_path}") == [f"file://{tmp_path}/shard-000000.tar"]


def test_register_fsspec_schemes_is_idempotent_and_opens_memory_urls(memory_root):
    register_fsspec_schemes()
    handler = wds.gopen_schemes["memory"]
    register_fsspec_schemes()
    assert wds.gopen_schemes["memory"] is handler and wds.gopen_schemes["s3"] is handler
    with fsspec.open(f"{memory_root}/blob.bin", "wb") as handle:
        handle.write(json.dumps({"a": 1}).encode())
    with wds.gopen(f"{memory_root}/blob.bin") as stream:
        assert json.load(io.TextIOWrapper(stream)) == {"a": 1}
