"""Video autoencoding: a preset holding only an autoencoder (the TAE presets) as a pipeline."""

from __future__ import annotations

import torch
from pydantic import Field, PositiveInt

from zoo.pipeline import Pipeline, build_components
from zoo.registry import register
from zoo.spec.model_spec import ModelSpec
from zoo.spec.params import Params, Slot


class AutoencodeParams(Params):
    """An autoencoder and the video format `zoo info` reports shapes for."""

    autoencoder: Slot("autoencoder") = Field(description="The video autoencoder.")
    frames: PositiveInt = Field(32, description="Default number of frames for shape reports.")
    height: PositiveInt = Field(256, description="Default frame height in pixels.")
    width: PositiveInt = Field(256, description="Default frame width in pixels.")


class AutoencodePipeline(Pipeline):
    """``pipe(video)`` reconstructs ``(B, 3, T, H, W)`` videos in [-1, 1] through the latent space."""

    @torch.inference_mode()
    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        self.autoencoder.eval()
        latents = self.autoencoder.encode(video).mode()
        return self.autoencoder.decode(latents, frames=video.shape[2])


@register("pipeline", "video-autoencoder", params=AutoencodeParams, description="Encode and decode videos (TAE).")
def build_autoencode(p: AutoencodeParams, *, spec: ModelSpec) -> AutoencodePipeline:
    return AutoencodePipeline(spec, build_components(p))
