"""A tiny CLIP for Shapes world: a transformers ``CLIPModel`` and ``CLIPProcessor`` that need no download.

CLIP score's reference models (OpenAI CLIP) cannot be fetched offline. The ``train-clip`` recipe trains
this one contrastively on Shapes-world frames and captions and saves it as a Hugging Face directory that
``metric/clip-score`` loads as ``model: <dir>``. Its scores compare only with scores from the same
weights, never with OpenAI CLIP scores.

The tokenizer is CLIP's own ``CLIPTokenizer`` (byte-level BPE, lower-cased, ``</w>`` word ends) with a
vocabulary built here: the 256 byte symbols (so any text encodes, nothing maps to an unknown token),
each also as a word end, and merges that make every word of Shapes-world captions a single token.
Captions are then about 20 tokens long instead of up to 200 characters.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import Field, PositiveInt, model_validator

from zoo.data.shapes_world import captions, vocabulary
from zoo.spec.params import Params

BOS, EOS = "<|startoftext|>", "<|endoftext|>"  # OpenAI CLIP's specials; EOS also pads (pooling takes the first)
WORD_END = "</w>"
TEMPLATE_WORDS = ("a", "and", "that")  # words the caption templates write literally
CAPTION_PHRASES = (  # the phrase tables of zoo.data.shapes_world.captions
    "SIZE_WORDS", "SPEED_ADVERBS", "MOVE_VERBS", "DIRECTION_COMPLEMENTS", "OWN_VERBS", "BACKGROUND_PHRASES",
    "CAMERA_PHRASES", "CAMERA_COMPLEMENTS", "STATIC_CAMERA_PHRASES", "IMAGE_LEADS", "VIDEO_LEADS",
)


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


# --- the tokenizer -------------------------------------------------------------------------------------


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _strings(item)


def caption_words() -> list[str]:
    """Every word Shapes-world captions use, sorted: attribute names, phrase tables and template words."""
    texts = [*vocabulary.SHAPES, *vocabulary.COLOURS, *vocabulary.BACKGROUNDS, *TEMPLATE_WORDS]
    for table in CAPTION_PHRASES:
        texts.extend(_strings(getattr(captions, table)))
    return sorted({word for text in texts for word in re.findall(r"[a-z]+", text.lower())})


def _bpe(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """Byte-pair encoding of one word's symbols: merge the lowest-ranked adjacent pair until none is known."""
    while len(symbols) > 1:
        rank, first = min((ranks.get(pair, len(ranks)), i) for i, pair in enumerate(zip(symbols, symbols[1:])))
        if rank == len(ranks):
            break
        pair, merged, i = (symbols[first], symbols[first + 1]), [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


def word_vocabulary(words: Iterable[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE ``(vocab, merges)`` under which each of ``words`` (lower-case ASCII) is one token.

    Words are taken in order; a word that existing merges leave in pieces gets merges joining its pieces
    left to right, ranked after all earlier ones, so no earlier word is split again.
    """
    from tokenizers.pre_tokenizers import ByteLevel

    symbols = sorted(ByteLevel.alphabet())
    vocab = {BOS: 0, EOS: 1}
    for symbol in symbols + [s + WORD_END for s in symbols]:
        vocab[symbol] = len(vocab)
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    for word in words:
        pieces = _bpe([*word[:-1], word[-1] + WORD_END], ranks)
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            vocab.setdefault(pair[0] + pair[1], len(vocab))
            pieces = [pair[0] + pair[1], *pieces[2:]]
    return vocab, merges


def caption_tokenizer(context: int) -> Any:
    """A ``CLIPTokenizer`` over :func:`word_vocabulary` of :func:`caption_words`, ``context`` tokens long."""
    from transformers import CLIPTokenizer

    vocab, merges = word_vocabulary(caption_words())
    return CLIPTokenizer(
        vocab=vocab, merges=merges, bos_token=BOS, eos_token=EOS, pad_token=EOS, unk_token=EOS,
        model_max_length=context,
    )


# --- the model -----------------------------------------------------------------------------------------


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
