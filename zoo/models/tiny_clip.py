"""A tiny CLIP for Shapes world: a transformers ``CLIPModel`` and ``CLIPProcessor`` that need no download.

CLIP score's reference models (OpenAI CLIP) cannot be fetched offline. The ``train-clip`` recipe trains
this one contrastively on Shapes-world frames and captions and saves it as a Hugging Face directory that
``metric/clip-score`` loads as ``model: <dir>``. Its scores compare only with scores from the same
weights, never with OpenAI CLIP scores.

The tokenizer is :func:`zoo.models.text.caption_words.caption_tokenizer`: every caption word is one token.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveInt, model_validator

from zoo.models.text.caption_words import BOS, EOS, caption_tokenizer, caption_words
from zoo.spec.params import Params

__all__ = ["BOS", "EOS", "TinyCLIPParams", "build_tiny_clip", "caption_tokenizer", "caption_words"]


class TinyCLIPParams(Params):
    """Sizes of the tiny CLIP: a ViT on frames, a text transformer on caption tokens, a shared projection."""

    image_size: PositiveInt = Field(
        64, description="Frames are resized (short side) and centre-cropped to this many pixels square."
    )
    patch_size: PositiveInt = Field(8, description="ViT patch side in pixels.")
    vision_width: PositiveInt = Field(64, description="Vision transformer width.")
    vision_layers: PositiveInt = Field(2, description="Vision transformer layers.")
    vision_heads: PositiveInt = Field(2, description="Vision attention heads.")
    text_width: PositiveInt = Field(64, description="Text transformer width.")
    text_layers: PositiveInt = Field(2, description="Text transformer layers.")
    text_heads: PositiveInt = Field(2, description="Text attention heads.")
    context: int = Field(64, ge=8, description="Text context in tokens (longer prompts are truncated, EOS kept).")
    projection_dim: PositiveInt = Field(64, description="Size of the shared image-text embedding.")

    @model_validator(mode="after")
    def _check(self) -> TinyCLIPParams:
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of patch_size ({self.patch_size})")
        for width, heads, side in ((self.vision_width, self.vision_heads, "vision"),
                                   (self.text_width, self.text_heads, "text")):
            if width % heads:
                raise ValueError(f"{side}: width {width} must be divisible by heads {heads}")
        return self


def build_tiny_clip(p: TinyCLIPParams) -> tuple[Any, Any]:
    """A randomly initialised ``(CLIPModel, CLIPProcessor)`` of sizes ``p``."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = caption_tokenizer(p.context)
    images = CLIPImageProcessor(
        size={"shortest_edge": p.image_size}, crop_size={"height": p.image_size, "width": p.image_size}
    )
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=p.text_width, intermediate_size=4 * p.text_width,
            num_hidden_layers=p.text_layers, num_attention_heads=p.text_heads, max_position_embeddings=p.context,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=p.vision_width, intermediate_size=4 * p.vision_width, num_hidden_layers=p.vision_layers,
            num_attention_heads=p.vision_heads, image_size=p.image_size, patch_size=p.patch_size,
        ),
        projection_dim=p.projection_dim,
    )
    return CLIPModel(config), CLIPProcessor(image_processor=images, tokenizer=tokenizer)
