"""Text conditioning: the three registered encoders, the conditioner and the prompt helpers (§1.2, §1.3)."""

from __future__ import annotations

import re

import pytest
import torch

import zoo.models.text  # noqa: F401 - registers the text_encoder entries
from zoo.models.text import (
    ByT5EncoderParams,
    CLIPTextParams,
    T5EncoderParams,
    TextConditioner,
    TextEncoder,
    fps_prefix,
    visual_text_spans,
)
from zoo.registry import get
from zoo.spec.params import component

TINY = {
    "t5": dict(vocab_size=384, d_model=32, layers=2, heads=2, head_dim=16, ffn=64, max_tokens=16),
    "byt5": dict(d_model=32, layers=2, heads=2, head_dim=16, ffn=64, max_tokens=8),
    "clip-text": dict(vocab_size=384, d_model=32, layers=2, heads=2, ffn=64, max_tokens=12),
}


def tiny(name: str, **changes) -> TextEncoder:
    torch.manual_seed(0)
    return component("text_encoder", name, **{**TINY[name], **changes}).build()


class RecordTexts:
    """Wraps an encoder's tokenize to record the strings it is given."""

    def __init__(self, encoder: TextEncoder, monkeypatch: pytest.MonkeyPatch):
        self.seen: list[list[str]] = []
        original = encoder.tokenize

        def tokenize(texts):
            self.seen.append(list(texts))
            return original(texts)

        monkeypatch.setattr(encoder, "tokenize", tokenize)


# -- prompt helpers -------------------------------------------------------------------------------
def test_visual_text_spans_are_the_quoted_strings_in_order():
    prompt = 'a shop sign that says "OPEN" above a door marked \u201cNo Entry\u201d, "" and a dangling "quote'
    assert visual_text_spans(prompt) == ["OPEN", "No Entry"]
    assert visual_text_spans("a dog's ball, no quotes") == []


def test_fps_prefix_writes_the_rate_before_the_prompt():
    assert fps_prefix("a dog runs", 16) == "FPS-16 a dog runs"
    assert fps_prefix("a dog runs", 24.0) == "FPS-24 a dog runs"
    assert fps_prefix("", 16) == "FPS-16"
    with pytest.raises(ValueError):
        fps_prefix("a dog", 0)


# -- encoders -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["t5", "clip-text"])
def test_prompt_encoders_pad_and_truncate_to_max_tokens(name):
    encoder = tiny(name)
    n = TINY[name]["max_tokens"]
    hidden, mask = encoder.encode(["a", "abcde", "x" * 40])
    assert hidden.shape == (3, n, 32) and mask.shape == (3, n) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [2, 6, n]  # bytes + end token, truncated at max_tokens
    assert mask[:, 0].all() and not mask[0, 2:].any()  # right padding
    assert encoder.hidden_size == 32 and encoder.max_tokens == n and encoder.input == "prompt"


@pytest.mark.parametrize("name", ["t5", "clip-text"])
def test_padding_does_not_change_real_token_features(name):
    short = tiny(name, max_tokens=8)
    long = tiny(name, max_tokens=12)  # same seed: CLIP only gets a longer (unused) position table
    if name == "clip-text":
        state = short.model.state_dict()
        key = next(k for k in state if k.endswith("position_embedding.weight"))
        position = state.pop(key)
        long.model.load_state_dict(state, strict=False)
        with torch.no_grad():
            long.model.get_parameter(key)[:8] = position
    h8, m8 = short.encode(["hello"])
    h12, m12 = long.encode(["hello"])
    assert m8.sum() == m12.sum() == 6
    torch.testing.assert_close(h8[:, :6], h12[:, :6], atol=1e-5, rtol=1e-5)


def test_longest_padding_pads_to_the_longest_prompt():
    hidden, mask = tiny("t5", padding="longest").encode(["a", "abcd"])
    assert hidden.shape[1] == 5 and mask.sum(1).tolist() == [2, 5]


@pytest.mark.parametrize("name", ["t5", "clip-text"])
def test_shapes_world_tokenizer_gives_one_token_per_caption_word(name):
    from zoo.data.shapes_world import sample
    from zoo.models.text.caption_words import caption_vocab_size

    encoder = tiny(name, tokenizer="shapes-world", vocab_size=caption_vocab_size(), max_tokens=48)
    caption = sample(3, frames=16).caption
    hidden, mask = encoder.encode([caption, "a zebra"])
    words = len(re.findall(r"[a-z]+|[^a-z\s]", caption.lower()))  # words and punctuation marks
    assert hidden.shape[:2] == (2, 48) and int(mask[0].sum()) <= words + 2 < len(caption)
    assert int(mask[1].sum()) > 4  # an unknown word falls back to byte pieces, never to an unknown id
    with pytest.raises(Exception, match=f"vocab_size >= {caption_vocab_size()}"):
        component("text_encoder", name, **{**TINY[name], "tokenizer": "shapes-world"})


def test_byt5_reads_only_the_quoted_visual_text(monkeypatch):
    encoder = tiny("byt5")
    record = RecordTexts(encoder, monkeypatch)
    hidden, mask = encoder.encode(['a sign that says "OPEN"', "a dog", 'neon "EAT" and "DRINK"'])
    assert record.seen == [["OPEN", "", "EAT DRINK"]]
    assert mask.sum(1).tolist() == [5, 1, 8]  # "" -> only the end token
    quoted, _ = encoder.encode(['"OPEN"'])
    other, _ = encoder.encode(['"SHUT"'])
    torch.testing.assert_close(hidden[:1], quoted)
    assert not torch.allclose(hidden[:1, :4], other[:, :4])


def test_frozen_encoder_has_no_trainable_params_and_stays_in_eval():
    encoder = tiny("t5")
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.model.training
    hidden, _ = encoder.encode(["a"])
    assert not hidden.requires_grad

    trainable = tiny("t5", frozen=False).train()
    assert trainable.model.training
    assert sum(p.numel() for p in trainable.parameters() if p.requires_grad) == sum(
        p.numel() for p in trainable.parameters()
    )
    assert trainable.encode(["a"])[0].requires_grad


def test_encode_rejects_a_bare_string():
    with pytest.raises(TypeError):
        tiny("t5").encode("a dog")


# -- conditioner ----------------------------------------------------------------------------------
def conditioner(dim: int = 48) -> TextConditioner:
    return TextConditioner([tiny("t5"), tiny("byt5"), tiny("clip-text")], dim)


def test_conditioner_concatenates_projected_tokens_and_masks():
    cond = conditioner()
    tokens, mask = cond(['a sign that says "OPEN"', "b"])
    assert cond.max_tokens == 16 + 8 + 12
    assert tokens.shape == (2, 36, 48) and mask.shape == (2, 36)
    # t5: 23 bytes + end truncated to 16 / "b" + end; byt5: "OPEN" + end / end only; clip like t5 at 12
    assert mask[:, :16].sum(1).tolist() == [16, 2]
    assert mask[:, 16:24].sum(1).tolist() == [5, 1]
    assert mask[:, 24:].sum(1).tolist() == [12, 2]
    assert mask.sum(1).tolist() == [33, 5]
    assert (tokens[~mask] == 0).all()
    # real tokens are LayerNorm outputs: zero mean, unit variance over the width (affine starts as identity)
    real = tokens[mask]
    torch.testing.assert_close(real.mean(-1), torch.zeros(len(real)), atol=1e-5, rtol=0)
    torch.testing.assert_close(real.var(-1, unbiased=False), torch.ones(len(real)), atol=1e-3, rtol=0)


def test_only_projections_train_and_receive_gradients():
    cond = conditioner().train()
    trainable = {name.split(".")[0] for name, p in cond.named_parameters() if p.requires_grad}
    assert trainable == {"projections"}
    assert all(not e.training for e in cond.encoders)
    tokens, _ = cond(["a red ball", 'a "HI" sign'])
    tokens.square().sum().backward()
    for proj in cond.projections:
        assert proj.linear.weight.grad is not None and proj.linear.weight.grad.abs().sum() > 0
        assert proj.linear.bias is None  # bias-free Linear, as in M4
    assert all(p.grad is None for p in cond.encoders.parameters())


def test_conditioner_prepends_fps_text_to_every_encoder_input(monkeypatch):
    cond = conditioner()
    records = [RecordTexts(e, monkeypatch) for e in cond.encoders]
    cond(['a "HI" sign', "a dog"], fps=[16, 24])
    assert records[0].seen == [['FPS-16 a "HI" sign', "FPS-24 a dog"]]
    assert records[1].seen == [["HI", ""]]  # the FPS text is not visual text
    assert records[2].seen == records[0].seen
    with pytest.raises(ValueError):
        cond(["a", "b"], fps=[16])


def test_null_conditioning_is_the_empty_prompt():
    cond = conditioner()
    tokens, mask = cond.null_conditioning(3)
    ref_tokens, ref_mask = cond(["", "", ""])
    assert tokens.shape == (3, 36, 48)
    assert mask.sum(1).tolist() == [3, 3, 3]  # one end token per encoder
    torch.testing.assert_close(tokens, ref_tokens)
    assert torch.equal(mask, ref_mask)
    assert cond.null_conditioning(1, fps=16)[1].sum() == 7 + 1 + 7  # "FPS-16" + end in t5 and clip, end only in byt5


# -- paper scale, registry, pretrained ------------------------------------------------------------
def t5_encoder_params(vocab: int, d: int, layers: int, heads: int, head_dim: int, ffn: int) -> int:
    attention = 4 * d * heads * head_dim
    gated_ffn = 3 * d * ffn
    return vocab * d + layers * (attention + gated_ffn + 2 * d) + 32 * heads + d  # + rel. bias + final norm


def clip_text_params(vocab: int, d: int, layers: int, ffn: int, positions: int) -> int:
    block = 4 * (d * d + d) + 2 * d * ffn + ffn + d + 4 * d
    return vocab * d + positions * d + layers * block + 2 * d


def test_paper_scale_encoders_build_on_meta_with_expected_sizes():
    with torch.device("meta"):
        encoders = [component("text_encoder", n).build() for n in ("t5", "byt5", "clip-text")]
        cond = TextConditioner(encoders, 6144)  # §1.1: model dim 6144
    counts = [sum(p.numel() for p in e.parameters()) for e in encoders]
    assert counts == [
        t5_encoder_params(32128, 4096, 32, 16, 256, 16384),  # 8.72B (google/ul2 encoder)
        t5_encoder_params(384, 1472, 12, 6, 64, 3584),  # 0.22B (byt5-small encoder)
        clip_text_params(49408, 1024, 24, 4096, 256),  # 0.35B (MetaCLIP H/14 text, 256 positions)
    ]
    assert counts[0] == 8_721_797_632
    assert [e.hidden_size for e in encoders] == [4096, 1472, 1024]
    assert [e.max_tokens for e in encoders] == [512, 100, 256] and cond.max_tokens == 868
    assert [e.input for e in encoders] == ["prompt", "visual_text", "prompt"]
    projections = sum(p.numel() for p in cond.projections.parameters())
    assert projections == (4096 + 1472 + 1024) * 6144 + 3 * 2 * 6144
    assert all(p.device.type == "meta" for p in cond.parameters())


def test_registry_round_trip_and_param_validation():
    for name, params in [("t5", T5EncoderParams), ("byt5", ByT5EncoderParams), ("clip-text", CLIPTextParams)]:
        entry = get("text_encoder", name)
        assert entry.params is params and entry.factory.__module__ == "zoo.models.text.encoders"
        spec = component("text_encoder", name, **TINY[name])
        data = spec.model_dump()
        assert data["type"] == name and data["d_model"] == 32
        again = component("text_encoder", data.pop("type"), **data)
        assert again == spec
    assert component("text_encoder", "byt5").params.input == "visual_text"
    assert component("text_encoder", "t5").params.tokenizer_kind == "byte"
    with pytest.raises(Exception, match="pretrained"):
        component("text_encoder", "t5", tokenizer="pretrained")
    with pytest.raises(Exception, match="vocab_size"):
        component("text_encoder", "clip-text", vocab_size=100)
    with pytest.raises(Exception, match="divisible"):
        component("text_encoder", "clip-text", d_model=30, heads=4)
    with pytest.raises(Exception):
        component("text_encoder", "t5", hidden=32)  # unknown key


def test_pretrained_directory_supplies_config_and_tokenizer(tmp_path, monkeypatch):
    import fsspec

    source = tiny("t5")
    source.model.save_pretrained(tmp_path / "enc")
    source.tokenizer.save_pretrained(tmp_path / "enc")
    expected, _ = source.encode(["a red ball"])

    loaded = component("text_encoder", "t5", pretrained=str(tmp_path / "enc"), max_tokens=16).build()
    assert loaded.hidden_size == 32  # from the saved config, not the 4096 default
    torch.testing.assert_close(loaded.encode(["a red ball"])[0], expected)

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    memory = fsspec.filesystem("memory")
    memory.put(str(tmp_path / "enc") + "/", "/text-enc/", recursive=True)
    try:
        remote = component("text_encoder", "t5", pretrained="memory://text-enc", max_tokens=16).build()
    finally:
        memory.rm("/text-enc", recursive=True)
    torch.testing.assert_close(remote.encode(["a red ball"])[0], expected)
    assert list((tmp_path / "cache" / "text_encoders").iterdir())
