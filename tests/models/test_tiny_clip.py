"""The tiny CLIP's tokenizer and config: caption words are single tokens, any text encodes, specials line up."""

from __future__ import annotations

import pytest
import torch

from zoo.data.shapes_world import sample
from zoo.models.tiny_clip import BOS, EOS, TinyCLIPParams, build_tiny_clip, caption_tokenizer, caption_words


@pytest.fixture(scope="module")
def tokenizer():
    return caption_tokenizer(context=64)


def test_every_word_of_shapes_world_captions_is_one_token(tokenizer):
    captions = [sample(i, frames=2).caption for i in range(150)] + [sample(i, frames=1).caption for i in range(50)]
    lengths = []
    for caption in captions:
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(caption)["input_ids"])
        words = [t for t in tokens[1:-1] if t[:-4].isalpha()]
        assert all(t.endswith("</w>") and t[:-4] in caption_words() for t in words), tokens
        assert tokens[0] == BOS and tokens[-1] == EOS
        lengths.append(len(tokens))
    assert max(lengths) <= 48 < max(len(c) for c in captions)  # words, not characters


def test_any_text_encodes_without_unknown_tokens_and_round_trips(tokenizer):
    text = "a zebra (Ünïcode) wanders 42 km, 東京"
    ids = tokenizer(text)["input_ids"]
    assert ids.count(tokenizer.eos_token_id) == 1  # the unknown token is EOS: it must never appear mid-text
    assert tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "") == text.lower().replace(" ", "")


def test_config_special_token_ids_match_the_tokenizer():
    model, processor = build_tiny_clip(TinyCLIPParams(image_size=32, vision_width=32, text_width=32, context=16))
    text = model.config.text_config
    assert (text.bos_token_id, text.eos_token_id, text.pad_token_id) == (
        processor.tokenizer.bos_token_id, processor.tokenizer.eos_token_id, processor.tokenizer.pad_token_id)
    assert text.vocab_size == len(processor.tokenizer) and text.max_position_embeddings == 16
    assert processor.tokenizer.model_max_length == 16
    pixels = processor(images=[torch.zeros(3, 48, 40, dtype=torch.uint8)], return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, 32, 32)


def test_params_reject_a_patch_that_does_not_tile_the_image():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        TinyCLIPParams(image_size=60, patch_size=8)
