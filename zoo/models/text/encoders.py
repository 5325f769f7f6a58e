"""Movie Gen Video's text encoders (§1.2): UL2 and long-prompt MetaCLIP read the prompt, ByT5 its quoted text.

Each registered entry builds a :class:`TextEncoder`: a ``transformers`` encoder and its tokenizer that turn a
list of prompts into ``(B, N, D_enc)`` hidden states and a ``(B, N)`` bool mask (True = real token). Weights
are random unless ``pretrained`` names a saved model. The paper's encoder sizes are UNCONFIRMED
(moviegen-facts §1.2); the defaults are the public checkpoints the sheet names as best guesses.

``transformers`` is imported inside the builders, so validating a spec does not pay for it.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import torch
from pydantic import Field, PositiveInt, model_validator
from torch import nn

from zoo.errors import WeightsError
from zoo.models.text.caption_words import caption_tokenizer, caption_vocab_size
from zoo.models.text.pretrained import local_location
from zoo.models.text.prompts import visual_text
from zoo.registry import register
from zoo.spec.params import Params

BYTE_VOCAB = 384  # ByT5Tokenizer: 3 special ids + 256 bytes + 125 sentinel ids

EncoderInput = Literal["prompt", "visual_text"]
TokenizerKind = Literal["byte", "shapes-world", "pretrained"]


class TextEncoderParams(Params):
    """Fields every text encoder shares; each entry below sets its own architecture defaults."""

    pretrained: str | None = Field(
        None,
        description="Hugging Face id, local directory or fsspec URL of a saved transformers model and "
        "tokenizer. Loaded with from_pretrained only when set, and then the architecture fields come "
        "from its config. None = random init from the fields here.",
    )
    tokenizer: TokenizerKind | None = Field(
        None,
        description="'byte' = ByT5's byte tokenizer (needs no files, ids below 384); 'shapes-world' = a "
        "word-level tokenizer in which every Shapes-world caption word is one token (needs no files; any "
        "other text falls back to bytes); 'pretrained' = the tokenizer saved with `pretrained`. "
        "None = 'pretrained' when `pretrained` is set, else 'byte'.",
    )
    frozen: bool = Field(True, description="No trainable parameters, and eval mode kept even in training.")
    input: EncoderInput = Field(
        "prompt", description="What the encoder reads: the whole prompt, or only its quoted visual-text spans."
    )
    padding: Literal["max_tokens", "longest"] = Field(
        "max_tokens",
        description="Pad every batch to max_tokens (fixed N, so prompt and empty-prompt batches stack for "
        "guidance) or only to the longest prompt in the batch.",
    )
    vocab_size: PositiveInt = Field(description="Token vocabulary size (ids).")
    d_model: PositiveInt = Field(description="Hidden width D_enc of the output tokens.")
    layers: PositiveInt = Field(description="Number of transformer layers.")
    heads: PositiveInt = Field(description="Attention heads per layer.")
    ffn: PositiveInt = Field(description="Feed-forward hidden width.")
    max_tokens: PositiveInt = Field(description="Tokens kept per prompt, end token included (longer is truncated).")

    @property
    def tokenizer_kind(self) -> TokenizerKind:
        """The tokenizer actually used, with the None default resolved."""
        if self.tokenizer is not None:
            return self.tokenizer
        return "pretrained" if self.pretrained else "byte"

    @model_validator(mode="after")
    def _check_tokenizer(self) -> TextEncoderParams:
        if self.tokenizer == "pretrained" and not self.pretrained:
            raise ValueError("tokenizer 'pretrained' needs `pretrained` (a saved model and tokenizer) to be set")
        if not self.pretrained and self.tokenizer_kind == "byte" and self.vocab_size < BYTE_VOCAB:
            raise ValueError(f"the byte tokenizer needs vocab_size >= {BYTE_VOCAB}, got {self.vocab_size}")
        if not self.pretrained and self.tokenizer_kind == "shapes-world" and self.vocab_size < caption_vocab_size():
            raise ValueError(
                f"the shapes-world tokenizer needs vocab_size >= {caption_vocab_size()}, got {self.vocab_size}"
            )
        return self


class T5EncoderParams(TextEncoderParams):
    """UL2 (T5-family) encoder. Defaults are google/ul2's encoder; the paper's size is UNCONFIRMED (§1.2, M2)."""

    vocab_size: PositiveInt = Field(32128, description="Token vocabulary size (google/ul2: 32128).")
    d_model: PositiveInt = Field(4096, description="Hidden width D_enc (google/ul2: 4096; M2).")
    layers: PositiveInt = Field(32, description="Encoder layers (google/ul2: 32).")
    heads: PositiveInt = Field(16, description="Attention heads (google/ul2: 16).")
    head_dim: PositiveInt = Field(256, description="Width per head; T5 does not tie it to d_model (google/ul2: 256).")
    ffn: PositiveInt = Field(16384, description="Feed-forward hidden width (google/ul2: 16384).")
    activation: Literal["gated-silu", "gated-gelu", "relu", "gelu"] = Field(
        "gated-silu", description="T5 feed_forward_proj (google/ul2: gated-silu, i.e. SwiGLU)."
    )
    max_tokens: PositiveInt = Field(512, description="Tokens kept per prompt (512, M2's choice; UNCONFIRMED).")


class ByT5EncoderParams(T5EncoderParams):
    """ByT5 character-level encoder on the prompt's quoted text. Defaults: google/byt5-small (UNCONFIRMED, M2)."""

    vocab_size: PositiveInt = Field(BYTE_VOCAB, description="Byte vocabulary size (ByT5: 384).")
    d_model: PositiveInt = Field(1472, description="Hidden width D_enc (byt5-small: 1472; M2).")
    layers: PositiveInt = Field(12, description="Encoder layers (byt5-small: 12).")
    heads: PositiveInt = Field(6, description="Attention heads (byt5-small: 6).")
    head_dim: PositiveInt = Field(64, description="Width per head (byt5-small: 64).")
    ffn: PositiveInt = Field(3584, description="Feed-forward hidden width (byt5-small: 3584).")
    activation: Literal["gated-silu", "gated-gelu", "relu", "gelu"] = Field(
        "gated-gelu", description="T5 feed_forward_proj (byt5-small: gated-gelu)."
    )
    max_tokens: PositiveInt = Field(100, description="Bytes kept, end token included (100, M2's choice; UNCONFIRMED).")
    input: EncoderInput = Field(
        "visual_text", description="What the encoder reads; ByT5 reads only the quoted visual-text spans (§1.2)."
    )


class CLIPTextParams(TextEncoderParams):
    """Long-prompt MetaCLIP text tower, context 77 -> 256 tokens (§1.2). Defaults: MetaCLIP ViT-H/14 text tower.

    The tower size is UNCONFIRMED: H/14 is 1024-d (used here); M2 uses a 1280-d tower (bigG-sized: 32 layers,
    20 heads, ffn 5120).
    """

    vocab_size: PositiveInt = Field(49408, description="Token vocabulary size (CLIP BPE: 49408).")
    d_model: PositiveInt = Field(1024, description="Hidden width D_enc (MetaCLIP H/14 text tower: 1024).")
    layers: PositiveInt = Field(24, description="Transformer layers (H/14 text tower: 24).")
    heads: PositiveInt = Field(16, description="Attention heads (H/14 text tower: 16).")
    ffn: PositiveInt = Field(4096, description="Feed-forward hidden width (H/14 text tower: 4096).")
    activation: Literal["quick_gelu", "gelu"] = Field(
        "quick_gelu", description="MLP activation (MetaCLIP checkpoints are the quickgelu variants)."
    )
    max_tokens: PositiveInt = Field(
        256, description="Context length = position table size (long-prompt MetaCLIP: 256 instead of 77; §1.2)."
    )

    @model_validator(mode="after")
    def _check_heads(self) -> CLIPTextParams:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


class TextEncoder(nn.Module):
    """A tokenizer and a transformers encoder: prompts -> ``(B, N, D_enc)`` hidden states and ``(B, N)`` mask.

    ``N`` is ``max_tokens`` (or the longest prompt with ``padding="longest"``); mask True marks real tokens,
    end token included, so every row has at least one. A frozen encoder has no trainable parameters, stays
    in eval mode when its parent is put in train mode, and runs without autograd.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        hidden_size: int,
        max_tokens: int,
        input: EncoderInput = "prompt",  # noqa: A002 - the spec's word
        padding: Literal["max_tokens", "longest"] = "max_tokens",
        frozen: bool = True,
    ):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.hidden_size = hidden_size
        self.max_tokens = max_tokens
        self.input = input
        self.padding = padding
        self.frozen = frozen
        if frozen:
            self.model.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> TextEncoder:
        """Set train mode; a frozen encoder always stays in eval mode (no dropout)."""
        return super().train(mode and not self.frozen)

    def texts(self, prompts: Sequence[str]) -> list[str]:
        """The strings this encoder reads: the prompts, or their visual-text spans ("" where none)."""
        if isinstance(prompts, str):
            raise TypeError("encode takes a list of prompts, not a single string")
        return [visual_text(p) for p in prompts] if self.input == "visual_text" else list(prompts)

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, N)`` token ids and ``(B, N)`` bool mask, truncated to ``max_tokens``."""
        batch = self.tokenizer(
            list(texts),
            padding="max_length" if self.padding == "max_tokens" else "longest",
            max_length=self.max_tokens,
            truncation=True,
            return_tensors="pt",
        )
        return batch["input_ids"], batch["attention_mask"].bool()

    def encode(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``B`` prompts -> ``(B, N, D_enc)`` last hidden states and ``(B, N)`` bool mask, on the model's device."""
        ids, mask = self.tokenize(self.texts(prompts))
        device = next(self.model.parameters()).device
        ids, mask = ids.to(device), mask.to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            hidden = self.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        return hidden, mask

    def forward(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Same as :meth:`encode`."""
        return self.encode(prompts)


def load_tokenizer(p: TextEncoderParams) -> Any:
    """The byte or Shapes-world word tokenizer (no files), or the one saved with ``p.pretrained``."""
    if p.tokenizer_kind == "byte":
        from transformers import ByT5Tokenizer

        return ByT5Tokenizer()
    if p.tokenizer_kind == "shapes-world":
        return caption_tokenizer(p.max_tokens)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(local_location(p.pretrained))


def _instantiate(model_cls: Any, config: Any, p: TextEncoderParams, device: Any, dtype: Any) -> nn.Module:
    """Load ``p.pretrained`` (its config wins) or build ``model_cls(config)`` with random weights."""
    if p.pretrained:
        try:
            model = model_cls.from_pretrained(local_location(p.pretrained), dtype=dtype)
        except OSError as exc:
            raise WeightsError(f"cannot load text encoder from '{p.pretrained}': {exc}") from exc
        return model.to(device) if device is not None else model
    if device is not None:
        with torch.device(device):
            model = model_cls(config)
    else:
        model = model_cls(config)  # follows an enclosing `with torch.device(...)`, e.g. "meta"
    return model.to(dtype) if dtype is not None else model


def _wrap(model: nn.Module, tokenizer: Any, p: TextEncoderParams) -> TextEncoder:
    return TextEncoder(
        model,
        tokenizer,
        hidden_size=model.config.hidden_size,
        max_tokens=p.max_tokens,
        input=p.input,
        padding=p.padding,
        frozen=p.frozen,
    )


def _build_t5(p: T5EncoderParams, device: Any, dtype: Any) -> TextEncoder:
    from transformers import T5Config, T5EncoderModel

    tokenizer = load_tokenizer(p)
    config = None
    if not p.pretrained:
        config = T5Config(
            vocab_size=p.vocab_size,
            d_model=p.d_model,
            d_kv=p.head_dim,
            d_ff=p.ffn,
            num_layers=p.layers,
            num_heads=p.heads,
            feed_forward_proj=p.activation,
            dropout_rate=0.0,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    return _wrap(_instantiate(T5EncoderModel, config, p, device, dtype), tokenizer, p)


@register("text_encoder", "t5", params=T5EncoderParams, description="UL2/T5 encoder over the prompt (§1.2).")
def build_t5(p: T5EncoderParams, *, device: Any = None, dtype: torch.dtype | None = None) -> TextEncoder:
    """UL2 encoder; ``device``/``dtype`` place the weights (None follows the ambient default device)."""
    return _build_t5(p, device, dtype)


@register(
    "text_encoder",
    "byt5",
    params=ByT5EncoderParams,
    description="ByT5 byte encoder over the quoted visual text (§1.2).",
)
def build_byt5(p: ByT5EncoderParams, *, device: Any = None, dtype: torch.dtype | None = None) -> TextEncoder:
    """ByT5 encoder; by default it reads only the prompt's quoted spans."""
    return _build_t5(p, device, dtype)


@register(
    "text_encoder",
    "clip-text",
    params=CLIPTextParams,
    description="Long-prompt MetaCLIP text tower, 256 tokens (§1.2).",
)
def build_clip_text(p: CLIPTextParams, *, device: Any = None, dtype: torch.dtype | None = None) -> TextEncoder:
    """MetaCLIP text tower with a 256-entry position table (causal attention, as in CLIP)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = load_tokenizer(p)
    config = None
    if not p.pretrained:
        config = CLIPTextConfig(
            vocab_size=p.vocab_size,
            hidden_size=p.d_model,
            intermediate_size=p.ffn,
            num_hidden_layers=p.layers,
            num_attention_heads=p.heads,
            max_position_embeddings=p.max_tokens,
            hidden_act=p.activation,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    model = _instantiate(CLIPTextModel, config, p, device, dtype)
    positions = model.config.max_position_embeddings
    if p.max_tokens > positions:
        raise WeightsError(f"max_tokens {p.max_tokens} exceeds the loaded text tower's {positions} positions")
    return _wrap(model, tokenizer, p)
