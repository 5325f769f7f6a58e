"""The benchmark prompt sets: counts, filters, limit, sharding, checksums and locations.

The Movie Gen Bench files are read from the byte-for-byte copy shipped in ``zoo/benchmarks/moviegenbench`` (no network).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import fsspec
import pytest

import zoo

from zoo.data.prompt_sets import KNOWN_SHA256, MOVIEGENBENCH_LOCATION, PromptSetError
from zoo.errors import OfflineError, SpecError
from zoo.io.uri import offline
from zoo.registry import get
from zoo.spec.params import component

LOCAL = Path(zoo.__file__).parent / "benchmarks" / "moviegenbench"


def video_bench(**params):
    return component("dataset", "moviegen-video-bench", location=str(LOCAL), **params).build()


def audio_bench(**params):
    return component("dataset", "moviegen-audio-bench", location=str(LOCAL), **params).build()


def test_local_copy_is_byte_identical_to_the_released_files_and_keeps_the_license_note():
    for name, digest in KNOWN_SHA256.items():
        assert hashlib.sha256((LOCAL / name).read_bytes()).hexdigest() == digest, name
    readme = (LOCAL / "README.md").read_text()
    assert "CC BY-NC 4.0" in readme and "https://github.com/facebookresearch/MovieGenBench" in readme


def test_video_bench_has_1003_prompts_with_tags_and_motion_levels_in_file_order():
    bench = video_bench()
    assert len(bench) == bench.total == 1003
    first = bench[0]
    assert set(first) == {"key", "prompt", "tags", "motion_level"}
    assert first["key"] == "0000" and bench[1002]["key"] == "1002"
    assert first["prompt"].startswith("A stylish woman walks down a Tokyo street")
    assert first["tags"] == ["human - activity"] and first["motion_level"] == "low"
    # the prompt column is MovieGenVideoBench.txt line by line, except 3 trailing spaces and one typo
    lines = (LOCAL / "MovieGenVideoBench.txt").read_text(encoding="utf-8").splitlines()
    differ = [i for i, line in enumerate(lines) if bench[i]["prompt"] != line]
    assert differ == [282, 283, 689] and [bench[i]["prompt"] == lines[i].rstrip() for i in differ] == [1, 1, 0]
    assert bench[689]["prompt"] == "A man in a suit fights monters"  # as released ("monsters" in the .txt)
    assert Counter(bench[i]["motion_level"] for i in range(len(bench))) == {"low": 439, "medium": 299, "high": 265}
    tags = Counter(tag for i in range(len(bench)) for tag in bench[i]["tags"])
    assert len(tags) == 17 and tags["unusual activity"] == 234 and tags["physics - deformation"] == 9


def test_video_bench_filters_by_motion_level_and_by_any_of_the_tags():
    assert len(video_bench(motion_levels=["low"])) == 439
    assert len(video_bench(motion_levels=["medium", "high"])) == 299 + 265
    camera = video_bench(tags=["camera motion"])
    assert len(camera) == 146 and all("camera motion" in camera[i]["tags"] for i in range(len(camera)))
    either = video_bench(tags=["camera motion", "animal"])
    both = sum(1 for i in range(len(camera)) if "animal" in camera[i]["tags"])
    assert len(either) == 146 + 118 - both
    combined = video_bench(tags=["camera motion"], motion_levels=["high"])
    assert 0 < len(combined) < 146 and all(combined[i]["motion_level"] == "high" for i in range(len(combined)))


def test_unknown_tag_is_an_error_that_suggests_the_closest_tag():
    with pytest.raises(PromptSetError, match="did you mean 'camera motion'"):
        video_bench(tags=["camera motions"])


def test_bad_motion_level_is_a_spec_error():
    with pytest.raises(SpecError, match="motion_levels"):
        component("dataset", "moviegen-video-bench", location=str(LOCAL), motion_levels=["fast"])


def test_limit_keeps_the_first_n_after_filtering():
    limited = video_bench(tags=["camera motion"], limit=10)
    full = video_bench(tags=["camera motion"])
    assert len(limited) == 10 and [limited[i] for i in range(10)] == [full[i] for i in range(10)]
    assert len(video_bench(limit=5000)) == 1003


@pytest.mark.parametrize("world", [1, 3, 8])
def test_shards_are_disjoint_cover_the_set_and_are_deterministic(world):
    whole = video_bench(motion_levels=["high"]).keys
    shards = [video_bench(motion_levels=["high"], rank=r, world=world).keys for r in range(world)]
    assert sorted(key for shard in shards for key in shard) == sorted(whole)
    assert len({key for shard in shards for key in shard}) == len(whole)
    assert shards[world - 1] == whole[world - 1 :: world]  # rank r gets items r, r + world, ...
    assert video_bench(motion_levels=["high"], rank=world - 1, world=world).keys == shards[world - 1]


def test_rank_and_world_must_come_together_and_in_range():
    with pytest.raises(SpecError, match="both"):
        component("dataset", "moviegen-video-bench", rank=1)
    with pytest.raises(SpecError, match="out of range"):
        component("dataset", "moviegen-video-bench", rank=2, world=2)


def test_audio_bench_has_527_items_per_variant_with_their_fields():
    sfx, music = audio_bench(variant="sfx"), audio_bench(variant="sfx-music")
    assert len(sfx) == len(music) == 527
    assert set(sfx[0]) == {"key", "id", "video_prompt", "audio_prompt"}
    assert set(music[0]) == {"key", "id", "video_prompt", "audio_prompt", "music_prompt"}
    assert [sfx[i]["id"] for i in range(527)] == [music[i]["id"] for i in range(527)]
    assert sfx[526]["id"] == 537 and sfx[526]["key"] == "537"
    assert sfx[0]["video_prompt"] == music[0]["video_prompt"] != sfx[0]["audio_prompt"]
    assert len(audio_bench(variant="sfx-music", limit=7)) == 7
    halves = [audio_bench(rank=r, world=2).keys for r in (0, 1)]
    assert len(halves[0]) == 264 and len(halves[1]) == 263 and not set(halves[0]) & set(halves[1])


def test_wrong_sha256_is_a_clear_error(tmp_path):
    with pytest.raises(PromptSetError, match=r"MovieGenVideoBenchWithTag\.csv: sha256 mismatch: expected 0{64}"):
        video_bench(sha256="0" * 64)
    with pytest.raises(SpecError, match="64 hex digits"):
        component("dataset", "moviegen-video-bench", sha256="abc")
    edited = tmp_path / "MovieGenAudioBenchSfx.jsonl"
    edited.write_bytes((LOCAL / edited.name).read_bytes() + b"\n")
    with pytest.raises(PromptSetError, match="sha256 mismatch"):
        component("dataset", "moviegen-audio-bench", location=str(tmp_path)).build()
    skipped = component("dataset", "moviegen-audio-bench", location=str(tmp_path), sha256=None).build()
    assert len(skipped) == 527  # null skips the check; the blank line is ignored


def test_memory_location_works():
    fs = fsspec.filesystem("memory")
    for path in LOCAL.iterdir():
        fs.pipe_file(f"/prompt-sets-test/{path.name}", path.read_bytes())
    try:
        bench = component("dataset", "moviegen-video-bench", location="memory://prompt-sets-test/").build()
        assert len(bench) == 1003 and bench[0] == video_bench()[0]
        assert len(component("dataset", "moviegen-audio-bench", location="memory://prompt-sets-test").build()) == 527
    finally:
        fs.rm("/prompt-sets-test", recursive=True)


def test_missing_location_is_a_clear_error_naming_the_url(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(PromptSetError, match=rf"{missing}/MovieGenVideoBenchWithTag\.csv: file not found"):
        component("dataset", "moviegen-video-bench", location=str(missing)).build()
    with pytest.raises(PromptSetError, match=r"memory://no-such-folder/MovieGenAudioBenchSfx\.jsonl: file not found"):
        component("dataset", "moviegen-audio-bench", location="memory://no-such-folder").build()


def test_default_location_is_the_pinned_upstream_folder_and_respects_the_offline_switch():
    assert MOVIEGENBENCH_LOCATION == (
        "https://raw.githubusercontent.com/facebookresearch/MovieGenBench/"
        "bab7753fce1108def167a1efb4c1ae1d69b8f03a/benchmark/"
    )
    with offline(), pytest.raises(OfflineError, match=r"raw\.githubusercontent\.com.*WithTag\.csv.*offline"):
        component("dataset", "moviegen-video-bench").build()


def test_shapes_world_bench_wraps_the_heldout_prompts_with_their_attributes():
    from zoo.data.shapes_world.bench import heldout_prompts

    bench = component("dataset", "shapes-world-bench", count=12, frames=8).build()
    expected = heldout_prompts(12, frames=8)
    assert len(bench) == 12
    assert [bench[i]["prompt"] for i in range(12)] == [p.prompt for p in expected]
    assert bench[3]["attributes"] == expected[3].attributes and bench[3]["key"] == expected[3].key
    assert component("dataset", "shapes-world-bench", count=12, frames=8, limit=5).build().keys == bench.keys[:5]
    odd = component("dataset", "shapes-world-bench", count=12, frames=8, rank=1, world=3).build()
    assert odd.keys == bench.keys[1::3]


def test_prompt_sets_are_registered_with_described_params():
    for name in ("moviegen-video-bench", "moviegen-audio-bench", "shapes-world-bench"):
        entry = get("dataset", name)
        assert entry.module == "zoo.data.prompt_sets"
        assert {"limit", "rank", "world"} <= set(entry.params.model_fields)


def test_rank_and_world_come_from_torch_distributed_when_initialised(monkeypatch):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 4)
    shard = audio_bench(limit=10)
    assert (shard.rank, shard.world, shard.total) == (1, 4, 10)
    assert shard.keys == audio_bench(limit=10, rank=0, world=1).keys[1::4]
    assert audio_bench(limit=10, rank=0, world=2).world == 2  # explicit fields win


def test_packaged_copy_is_addressed_by_zoo_uri():
    from zoo.data.prompt_sets import PACKAGED_LOCATION

    prompts = component("dataset", "moviegen-video-bench", location=PACKAGED_LOCATION, limit=3).build()
    assert len(prompts) == 3 and prompts[0]["prompt"]
