"""The cache-latents recipe and the latent-cache dataset: shards, statistics, resume, and training on them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.cli import main
from zoo.io.weights import save_safetensors
from zoo.data.latent_cache import LatentCacheDataset, LatentCacheParams, iter_latent_samples

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_train_recipe import TINY, losses  # noqa: E402
from toy_data import register_toy_videos  # noqa: E402

CACHE = """\
schema_version: 1
type: cache-latents
name: toy-cache
model: {{preset: moviegen-video-tiny, overrides: {overrides}}}
init: [{{uri: '{weights}', components: [autoencoder]}}]
data: {{type: toy-videos, size: 12, frames: 4, height: 32, width: 32}}
videos: 10
images: 3
batch_size: 4
shard_size: 4
output_dir: {out}
"""


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    register_toy_videos()
    weights = tmp_path / "tae.safetensors"
    save_safetensors(zoo.load("moviegen-video-tiny", overrides=TINY, weights=False).state_dict(), str(weights))
    recipe = tmp_path / "cache.yaml"
    out = tmp_path / "cache"
    recipe.write_text(CACHE.format(overrides=TINY, out=out, weights=weights))
    assert main(["run", str(recipe)]) == 0
    return out


def test_cache_holds_the_autoencoder_posterior_of_every_clip(cache: Path):
    assert sorted(p.name for p in (cache / "videos").iterdir()) == [f"shard-00000{i}.tar" for i in range(3)]
    assert len(list((cache / "images").iterdir())) == 1
    videos = list(iter_latent_samples(str(cache / "videos")))
    assert len(videos) == 10
    # The autoencoder the recipe loaded reproduces the cached posterior.
    from toy_data import ToyVideoParams, ToyVideos

    pipe = zoo.load("moviegen-video-tiny", overrides=TINY, weights=str(cache.parent / "tae.safetensors"))
    clip = ToyVideos(ToyVideoParams(size=12, frames=4, height=32, width=32))[3]["video"][None]
    with torch.inference_mode():
        posterior = pipe.autoencoder.eval().encode(clip)
    assert videos[3]["mean"].shape == tuple(posterior.mean.shape[1:]) == (8, 1, 8, 8)  # 32x32 px through the 4x4x4 TAE
    np.testing.assert_allclose(videos[3]["mean"], posterior.mean[0].numpy(), atol=1e-5)
    assert videos[3]["json"]["caption"] in {"a square moving right", "a square moving left"}
    assert videos[3]["json"]["frames"] == 4


def test_cache_json_statistics_normalise_the_latents(cache: Path):
    stats = json.loads((cache / "cache.json").read_text())
    assert (stats["videos"], stats["images"]) == (10, 3)
    means = np.stack([s["mean"] for s in iter_latent_samples(str(cache / "videos"))])
    logvars = np.stack([s["logvar"] for s in iter_latent_samples(str(cache / "videos"))])
    second_moment = (means.astype(np.float64) ** 2 + np.exp(logvars.astype(np.float64))).mean()
    assert stats["latent_mean"] == pytest.approx(means.mean(), rel=1e-6)
    assert stats["latent_std"] == pytest.approx(np.sqrt(second_moment - means.mean() ** 2), rel=1e-6)
    assert stats["latent_scale"] == pytest.approx(1 / stats["latent_std"])


def test_rerun_writes_only_missing_shards(cache: Path, tmp_path: Path):
    kept = cache / "videos" / "shard-000000.tar"
    before = kept.stat().st_mtime_ns
    lost = cache / "videos" / "shard-000001.tar"
    original = lost.read_bytes()
    lost.unlink()
    assert main(["run", str(tmp_path / "cache.yaml")]) == 0
    assert kept.stat().st_mtime_ns == before
    assert lost.read_bytes() == original  # deterministic: the same bytes again


def test_dataset_serves_videos_or_images_and_checks_frames(cache: Path):
    videos = LatentCacheDataset(LatentCacheParams(path=str(cache), frames=4))
    images = LatentCacheDataset(LatentCacheParams(path=str(cache), image_fraction=1.0))
    assert (len(videos), len(images)) == (10, 3)
    assert videos[0]["latent_mean"].shape == (8, 1, 8, 8) and images[0]["latent_mean"].shape == (8, 1, 8, 8)
    assert LatentCacheDataset(LatentCacheParams(path=str(cache), size=5)).means.shape[0] == 5
    with pytest.raises(ValueError, match="cached videos have \\[4\\] frames"):
        LatentCacheDataset(LatentCacheParams(path=str(cache), frames=8))
    with pytest.raises(ValueError, match="not a mix"):
        LatentCacheParams(path=str(cache), image_fraction=0.5)


def test_corrupt_shard_is_skipped_with_a_warning(cache: Path):
    (cache / "videos" / "shard-000002.tar").write_bytes(b"not a tar file at all" * 40)
    with pytest.warns(UserWarning, match="latent cache"):
        videos = LatentCacheDataset(LatentCacheParams(path=str(cache)))
    assert len(videos) == 8


def test_cached_posterior_gives_the_same_loss_as_encoding_on_the_fly(cache: Path):
    from toy_data import ToyVideoParams, ToyVideos

    from zoo.data.batches import collate
    from zoo.tasks.flow_matching import FlowMatchingTask
    from zoo.tasks.optim import OptimizerParams

    pipe = zoo.load("moviegen-video-tiny", overrides=TINY, weights=str(cache.parent / "tae.safetensors"))
    task = FlowMatchingTask(pipe, OptimizerParams(), 10, ema_decay=None)
    toy = ToyVideos(ToyVideoParams(size=12, frames=4, height=32, width=32))
    cached = LatentCacheDataset(LatentCacheParams(path=str(cache)))
    on_the_fly = collate([{"video": toy[i]["video"], "caption": toy[i]["caption"]} for i in range(4)])
    from_cache = collate([{k: cached[i][k] for k in ("latent_mean", "latent_logvar", "caption")} for i in range(4)])
    torch.testing.assert_close(task.loss(from_cache, step=3), task.loss(on_the_fly, step=3), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_train_recipe_runs_on_a_latent_cache(cache: Path, tmp_path: Path):
    recipe = tmp_path / "train.yaml"
    out = tmp_path / "run"
    recipe.write_text(
        "schema_version: 1\ntype: train\nname: toy\n"
        f"model: {{preset: moviegen-video-tiny, overrides: {TINY}}}\n"
        f"data: {{type: latent-cache, path: '{cache}', frames: 4}}\n"
        "stages: [{name: joint, steps: 3, image_fraction: 0.5}]\nbatch_size: 2\n"
        "trainer: {log_every_n_steps: 1, progress_bar: false}\n"
        f"output_dir: {out}\n"
    )
    proc = subprocess.run([sys.executable, str(HERE / "run_toy_recipe.py"), str(recipe)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(losses(out / "logs" / "stage-0-joint" / "metrics.csv")) == 3
