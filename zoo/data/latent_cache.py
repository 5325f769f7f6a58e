"""Latent caches: clips encoded once by a trained TAE, so backbone training skips the autoencoder.

A cache is a folder (local or any fsspec URL) made by the ``cache-latents`` recipe::

    <cache>/videos/shard-000000.tar ...   video clips
    <cache>/images/shard-000000.tar ...   still images (T = 1)
    <cache>/cache.json                    the autoencoder, the counts and the latent statistics

Each sample holds the TAE posterior of one clip, not a draw from it, so training still samples a
fresh latent per step (as encoding on the fly would): ``mean.npy`` and ``logvar.npy``, float32
``(C, t, h, w)`` in raw (not normalised) latent units, and ``json`` (caption, attributes, fps).

The registered dataset ``latent-cache`` loads one folder into memory (a tiny-scale cache of 20k clips
is ~80 MB) as a map-style dataset, which is what :class:`zoo.data.batches.MixedBatches` indexes.
"""

from __future__ import annotations

import io
import json
import posixpath
import warnings
from typing import Any, Iterator

import numpy as np
import torch
import webdataset as wds
from pydantic import Field, PositiveInt, model_validator
from torch.utils.data import Dataset

from zoo.data.shards import ShardReadWarning, register_fsspec_schemes, shard_urls
from zoo.registry import register
from zoo.spec.params import Params

LATENT_MEMBERS: tuple[str, ...] = ("mean.npy", "logvar.npy", "json")
"""Members every cached sample has."""


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` in ``.npy`` format (no pickled objects)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def read_npy(data: bytes) -> np.ndarray:
    """Inverse of :func:`npy_bytes`; refuses pickled object arrays."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def latent_sample(key: str, mean: np.ndarray, logvar: np.ndarray, meta: dict[str, Any]) -> dict[str, Any]:
    """One shard sample for :func:`zoo.data.shards.write_shards` (``required=LATENT_MEMBERS``)."""
    return {"__key__": key, "mean.npy": npy_bytes(mean), "logvar.npy": npy_bytes(logvar), "json": meta}


def iter_latent_samples(source: Any) -> Iterator[dict[str, Any]]:
    """Every readable sample of the shards at ``source`` (all of them, on every rank), in shard order.

    Yields ``{"key", "mean", "logvar" (float32 arrays), "json"}``. Unreadable samples and shards are
    skipped with a :class:`~zoo.data.shards.ShardReadWarning`.
    """
    register_fsspec_schemes()
    skipped = 0

    def on_error(error: Exception) -> bool:
        nonlocal skipped
        skipped += 1
        warnings.warn(f"latent cache: shard read error, rest of the shard skipped: {error!r}", ShardReadWarning)
        return True

    # No node/worker splitting here: every rank loads the whole cache and MixedBatches splits batches.
    pipeline = wds.DataPipeline(wds.SimpleShardList(shard_urls(source)), wds.tarfile_to_samples(handler=on_error))
    for raw in pipeline:
        try:
            meta = json.loads(raw["json"])
            yield {
                "key": raw["__key__"],
                "mean": read_npy(raw["mean.npy"]).astype(np.float32),
                "logvar": read_npy(raw["logvar.npy"]).astype(np.float32),
                "json": meta,
            }
        except Exception as error:  # one bad sample is dropped, never fatal
            skipped += 1
            warnings.warn(f"latent cache: skipped sample {raw.get('__key__')!r}: {error!r}", ShardReadWarning)


class LatentCacheParams(Params):
    """Where a latent cache is, and which of its parts to serve."""

    path: str = Field(description="Cache folder written by the cache-latents recipe (a path or fsspec URL).")
    image_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="0 serves the cached videos, 1 the cached still images."
    )
    frames: PositiveInt | None = Field(None, description="Expected frames per video; checked against the cache.")
    size: PositiveInt | None = Field(None, description="Use only the first `size` samples; None = all.")

    @model_validator(mode="after")
    def _whole_part(self) -> LatentCacheParams:
        if self.image_fraction not in (0.0, 1.0):
            raise ValueError(
                f"a latent cache serves videos (image_fraction 0) or images (1), not a mix ({self.image_fraction}); "
                "the train recipe mixes them by batch"
            )
        return self


class LatentCacheDataset(Dataset):
    """Cached posteriors as items ``{"latent_mean", "latent_logvar" (C, t, h, w), "caption", "key", "fps",
    "attributes"}``; ``FlowMatchingTask`` draws a latent from each, normalises it and trains on it."""

    def __init__(self, params: LatentCacheParams):
        self.params = params
        part = "images" if params.image_fraction == 1.0 else "videos"
        root = params.path.rstrip("/")
        samples = []
        for item in iter_latent_samples(posixpath.join(root, part)):
            samples.append(item)
            if params.size is not None and len(samples) >= params.size:
                break
        if not samples:
            raise FileNotFoundError(f"the latent cache {root} holds no readable {part}")
        frames = {item["json"].get("frames") for item in samples}
        if part == "videos" and params.frames is not None and frames != {params.frames}:
            raise ValueError(f"{root}: cached videos have {sorted(frames)} frames, the recipe asks for {params.frames}")
        self.means = torch.from_numpy(np.stack([item["mean"] for item in samples]))
        self.logvars = torch.from_numpy(np.stack([item["logvar"] for item in samples]))
        self.meta = [item["json"] for item in samples]
        self.keys = [item["key"] for item in samples]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        meta = self.meta[index]
        return {
            "latent_mean": self.means[index],
            "latent_logvar": self.logvars[index],
            "caption": meta["caption"],
            "key": self.keys[index],
            "fps": meta.get("fps"),
            "attributes": meta.get("attributes"),
        }


@register("dataset", "latent-cache", params=LatentCacheParams, description="TAE latents cached by cache-latents.")
def build_latent_cache(p: LatentCacheParams) -> LatentCacheDataset:
    return LatentCacheDataset(p)
