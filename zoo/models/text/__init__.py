"""Text conditioning for Movie Gen Video (§1.2, §1.3).

Importing this package registers the ``text_encoder`` entries ``t5`` (UL2), ``byt5`` and ``clip-text``
(long-prompt MetaCLIP). :class:`TextConditioner` projects and concatenates their outputs into the backbone's
cross-attention context; :func:`fps_prefix` and :func:`visual_text_spans` are the prompt helpers.
"""

from zoo.models.text.conditioner import TextConditioner, TextProjection, with_fps
from zoo.models.text.encoders import (
    ByT5EncoderParams,
    CLIPTextParams,
    T5EncoderParams,
    TextEncoder,
    TextEncoderParams,
    build_byt5,
    build_clip_text,
    build_t5,
)
from zoo.models.text.prompts import fps_prefix, visual_text, visual_text_spans

__all__ = [
    "ByT5EncoderParams",
    "CLIPTextParams",
    "T5EncoderParams",
    "TextConditioner",
    "TextEncoder",
    "TextEncoderParams",
    "TextProjection",
    "build_byt5",
    "build_clip_text",
    "build_t5",
    "fps_prefix",
    "visual_text",
    "visual_text_spans",
    "with_fps",
]
