"""Prompt text helpers: the visual-text spans ByT5 reads (§1.2) and the FPS prefix (§1.3)."""

from __future__ import annotations

import re

# Text between straight double quotes or typographic double quotes; single quotes are left alone
# because apostrophes ("don't") would open spurious spans.
_QUOTED = re.compile(r'"([^"]*)"|\u201c([^\u201d]*)\u201d')

SPAN_SEPARATOR = " "


def visual_text_spans(prompt: str) -> list[str]:
    """The quoted "visual text" spans of a prompt, in order, e.g. the OPEN of `a sign that says "OPEN"`.

    Empty or blank quotes are dropped; an unmatched quote opens no span.
    """
    spans = (straight or curly for straight, curly in _QUOTED.findall(prompt))
    return [span for span in spans if span.strip()]


def visual_text(prompt: str) -> str:
    """What the character-level encoder reads: the spans joined by a space, or ``""`` when there are none."""
    return SPAN_SEPARATOR.join(visual_text_spans(prompt))


def fps_prefix(prompt: str, fps: float) -> str:
    """The prompt with its sampling rate prepended as text: ``fps_prefix("a dog", 16) == "FPS-16 a dog"``.

    Movie Gen conditions on frame rate by writing it into the prompt (moviegen-facts §1.3, T1). ``fps`` is
    in frames per second; integral rates print without a decimal point (24.0 -> "FPS-24").
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    head = f"FPS-{fps:g}"
    return f"{head} {prompt}" if prompt else head
