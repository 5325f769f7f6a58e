"""The held-out split: (shape, colour, motion) combinations never shown in training.

Each of the 4 x 6 x 10 = 240 triples is hashed (SHA-256 of ``"shape|colour|motion"``) into
``[0, 1000)``; triples below ``HELDOUT_PER_MILLE`` are held out (28 of the 240, 11.7 %). The rule is
fixed, independent of any seed, so every run and every machine agrees on the split. Every single
shape, colour and motion still appears in many training triples (checked by the tests).

Still images have no motion, so they take part in training only; the held-out split is all videos.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from zoo.data.shapes_world.vocabulary import COLOURS, MOTIONS, SHAPES

HELDOUT_PER_MILLE = 125
"""Share of triples held out, in thousandths."""

SPLITS: tuple[str, ...] = ("train", "heldout")

Triple = tuple[str, str, str]


def _bucket(shape: str, colour: str, motion: str) -> int:
    digest = hashlib.sha256(f"{shape}|{colour}|{motion}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 1000


def is_heldout(shape: str, colour: str, motion: str) -> bool:
    """Whether the triple belongs to the held-out split."""
    return _bucket(shape, colour, motion) < HELDOUT_PER_MILLE


@lru_cache(maxsize=None)
def triples(split: str) -> tuple[Triple, ...]:
    """All ``(shape, colour, motion)`` triples of ``split``, in vocabulary order."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    want_heldout = split == "heldout"
    return tuple(
        (shape, colour, motion)
        for shape in SHAPES
        for colour in COLOURS
        for motion in MOTIONS
        if is_heldout(shape, colour, motion) == want_heldout
    )
