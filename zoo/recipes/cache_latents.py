"""The ``cache-latents`` recipe: encode a dataset once with a trained TAE into latent shards.

```yaml
schema_version: 1
type: cache-latents
name: shapes-world-latents
model: {preset: moviegen-video-tiny}          # whose autoencoder encodes
init: [{uri: runs/moviegen-tae-tiny/weights.safetensors, components: [autoencoder]}]
data: {type: shapes-world, frames: 16, height: 64, width: 64}
videos: 20000
images: 4000
```

Shard ``i`` holds samples ``i * shard_size ...`` and is written under a temporary name, so an
interrupted run is resumed by running the recipe again: finished shards are kept, the rest are
written. ``cache.json`` records the counts and the latent statistics, with the ``latent_shift`` and
``latent_scale`` that make the cached latents zero-mean and unit-variance for the backbone
(set them in the text-to-video preset's autoencoder). Train on the cache with the ``latent-cache`` dataset.
"""

from __future__ import annotations

import json
import math
import posixpath
from typing import Any, Iterator

import fsspec
import torch
from pydantic import Field, NonNegativeInt, PositiveInt

from zoo.data.batches import collate
from zoo.data.latent_cache import LATENT_MEMBERS, iter_latent_samples, latent_sample
from zoo.data.shards import write_shards
from zoo.errors import ZooError
from zoo.io.atomic import atomic_write
from zoo.recipes.common import InitWeights, ModelRef, build_pipeline
from zoo.registry import register
from zoo.spec.params import ComponentSpec, Params, Slot

SHARD_NAME = "shard-%06d.tar"


class CacheLatentsParams(Params):
    """What to encode, with which autoencoder, and where the shards go."""

    name: str = Field(description="Cache name; fills {name} in output_dir.")
    model: ModelRef = Field(description="Preset whose `autoencoder` encodes (a TAE or a text-to-video preset).")
    init: list[InitWeights] = Field(default_factory=list, description="Weights loaded before encoding.")
    data: Slot("dataset") = Field(description="Pixel data; must accept `image_fraction` (0 videos, 1 images).")
    videos: NonNegativeInt = Field(description="Video clips to cache: items 0 .. videos - 1.")
    images: NonNegativeInt = Field(0, description="Still images to cache: items 0 .. images - 1 of the image data.")
    batch_size: PositiveInt = Field(16, description="Clips encoded per forward pass.")
    shard_size: PositiveInt = Field(1000, description="Samples per shard.")
    output_dir: str = Field("runs/{name}", description="Cache folder (path or fsspec URL); {name} = the name.")


class CacheLatentsRecipe:
    """Runs a validated ``cache-latents`` recipe; ``run()`` returns 0 when the cache is complete."""

    def __init__(self, p: CacheLatentsParams):
        self.p = p
        self.root = p.output_dir.format(name=p.name).rstrip("/")

    def encoded(self, autoencoder: Any, dataset: Any, start: int, stop: int, part: str) -> Iterator[dict[str, Any]]:
        """Shard samples for items ``start .. stop - 1`` of ``dataset``, ``batch_size`` at a time."""
        for first in range(start, stop, self.p.batch_size):
            indices = range(first, min(first + self.p.batch_size, stop))
            items = [dataset[i] for i in indices]
            batch = collate([{"video": item["video"]} for item in items])
            with torch.inference_mode():
                posterior = autoencoder.encode(batch["video"])
            for index, item, mean, logvar in zip(indices, items, posterior.mean, posterior.logvar):
                meta = {
                    "source_key": item.get("key"),
                    "caption": item["caption"],
                    "attributes": item.get("attributes"),
                    "fps": item.get("fps"),
                    "frames": int(item["video"].shape[1]),
                }
                yield latent_sample(f"{part}-{index:08d}", mean.numpy(), logvar.numpy(), meta)

    def write_part(self, autoencoder: Any, part: str, image_fraction: float, count: int) -> None:
        """Write the missing shards of ``part`` (``videos`` or ``images``)."""
        if count == 0:
            return
        data: ComponentSpec = self.p.data
        dataset = data.replace(image_fraction=image_fraction).build()
        if len(dataset) < count:
            raise ZooError(f"{part}: the dataset has {len(dataset)} items, the recipe asks for {count}")
        fs, folder = fsspec.core.url_to_fs(posixpath.join(self.root, part))
        pattern = posixpath.join(self.root, part, SHARD_NAME)
        for index in range(math.ceil(count / self.p.shard_size)):
            if fs.exists(posixpath.join(folder, SHARD_NAME % index)):
                continue  # finished earlier: shards appear only when complete
            start = index * self.p.shard_size
            stop = min(start + self.p.shard_size, count)
            samples = self.encoded(autoencoder, dataset, start, stop, part)
            write_shards(samples, pattern, maxcount=self.p.shard_size, required=LATENT_MEMBERS, start=index)
            print(f"{part}: {stop}/{count} cached")

    def statistics(self) -> dict[str, float]:
        """Mean and standard deviation of latents drawn from the cached video posteriors, over every element."""
        total = total_sq = count = 0.0
        for item in iter_latent_samples(posixpath.join(self.root, "videos")):
            mean = torch.from_numpy(item["mean"]).double()
            var = torch.from_numpy(item["logvar"]).double().clamp(-30, 20).exp()
            total += mean.sum().item()
            total_sq += (mean.pow(2) + var).sum().item()  # E[z^2] of the posterior, element-wise
            count += mean.numel()
        mu = total / count
        std = math.sqrt(max(total_sq / count - mu**2, 1e-12))
        return {"latent_mean": mu, "latent_std": std, "latent_shift": mu, "latent_scale": 1.0 / std}

    def run(self) -> int:
        pipe = build_pipeline(self.p.model, self.p.init)
        autoencoder = pipe.autoencoder.eval()
        self.write_part(autoencoder, "videos", 0.0, self.p.videos)
        self.write_part(autoencoder, "images", 1.0, self.p.images)
        summary: dict[str, Any] = {
            "name": self.p.name,
            "model": self.p.model.model_dump(mode="json"),
            "init": [w.model_dump(mode="json") for w in self.p.init],
            "videos": self.p.videos,
            "images": self.p.images,
        }
        if self.p.videos:
            summary.update(self.statistics())
        text = json.dumps(summary, indent=2)
        target = posixpath.join(self.root, "cache.json")
        if "://" in target and not target.startswith("file://"):
            with fsspec.open(target, "w") as handle:  # object stores write whole objects
                handle.write(text)
        else:
            with atomic_write(target.removeprefix("file://"), "w") as handle:
                handle.write(text)
        if self.p.videos:
            print(
                f"cache: {self.root}  latent mean {summary['latent_mean']:.4f}  std {summary['latent_std']:.4f}  "
                f"-> autoencoder.latent_shift={summary['latent_shift']:.4f} "
                f"autoencoder.latent_scale={summary['latent_scale']:.4f}"
            )
        return 0


@register("recipe", "cache-latents", params=CacheLatentsParams, description="Encode a dataset into latent shards.")
def build_cache_latents(p: CacheLatentsParams) -> CacheLatentsRecipe:
    return CacheLatentsRecipe(p)
