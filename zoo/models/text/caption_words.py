"""A word-level tokenizer for Shapes-world captions that needs no download.

Byte tokenizers make a tiny encoder trained from scratch spell out every word of a ~200-character caption;
this one is CLIP's own ``CLIPTokenizer`` (byte-level BPE, lower-cased, ``</w>`` word ends) with a vocabulary
built here: the 256 byte symbols (so any text encodes, nothing maps to an unknown token), each also as a
word end, and merges that make every word of Shapes-world captions a single token. Captions are then
about 20 tokens long. The tiny CLIP and the tiny text encoders (``tokenizer: shapes-world``) read it.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from zoo.data.shapes_world import captions, vocabulary

BOS, EOS = "<|startoftext|>", "<|endoftext|>"  # OpenAI CLIP's specials; EOS also pads (pooling takes the first)
WORD_END = "</w>"
TEMPLATE_WORDS = ("a", "and", "that")  # words the caption templates write literally
CAPTION_PHRASES = (  # the phrase tables of zoo.data.shapes_world.captions
    "SIZE_WORDS", "SPEED_ADVERBS", "MOVE_VERBS", "DIRECTION_COMPLEMENTS", "OWN_VERBS", "BACKGROUND_PHRASES",
    "CAMERA_PHRASES", "CAMERA_COMPLEMENTS", "STATIC_CAMERA_PHRASES", "IMAGE_LEADS", "VIDEO_LEADS",
)


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


@functools.lru_cache(maxsize=1)
def caption_vocab_size() -> int:
    """Number of token ids of :func:`caption_tokenizer` (an encoder's ``vocab_size`` must be at least this)."""
    vocab, _ = word_vocabulary(caption_words())
    return len(vocab)
