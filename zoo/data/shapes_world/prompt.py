"""``parse_prompt``: read the attributes a prompt asks for, from any caption phrasing or a user's words.

The parser works on lower-case word tokens in four passes:

1. a few multi-word phrases become one token ("not moving" -> ``motionless``, "still image" -> ``image``);
2. the background ("black background") and the camera ("the camera pans left", "static camera") are
   taken out wherever they sit in the sentence;
3. the rest is split into objects at "and"; a piece without a shape noun ("... up *and* to the left")
   joins the piece before it;
4. each object reads its shape, colour, size, speed and motion words; a horizontal and a vertical
   direction combine into a diagonal.

Fields the prompt does not mention stay ``None``. Words outside the vocabulary are returned in
``unknown_words`` so a caller can warn that they will not be rendered or scored.
"""

from __future__ import annotations

import re

from zoo.data.shapes_world.attributes import ObjectAttributes, SceneAttributes
from zoo.data.shapes_world.captions import (
    BACKGROUND_PHRASES,
    CAMERA_COMPLEMENTS,
    CAMERA_PHRASES,
    DIRECTION_COMPLEMENTS,
    IMAGE_LEADS,
    MOVE_VERBS,
    OWN_VERBS,
    SIZE_WORDS,
    SPEED_ADVERBS,
    STATIC_CAMERA_PHRASES,
    VIDEO_LEADS,
)
from zoo.data.shapes_world.vocabulary import BACKGROUNDS

SHAPE_WORDS: dict[str, str] = {
    **{w: "circle" for w in ("circle", "circles", "disc", "discs", "disk", "disks", "ball", "balls", "dot", "dots")},
    **{w: "square" for w in ("square", "squares", "box", "boxes", "block", "blocks")},
    **{w: "triangle" for w in ("triangle", "triangles")},
    **{w: "diamond" for w in ("diamond", "diamonds", "rhombus", "lozenge")},
}

COLOUR_WORDS: dict[str, str] = {
    "red": "red",
    "yellow": "yellow",
    "green": "green",
    "cyan": "cyan",
    "turquoise": "cyan",
    "aqua": "cyan",
    "blue": "blue",
    "magenta": "magenta",
    "purple": "magenta",
    "fuchsia": "magenta",
}

BACKGROUND_WORDS: dict[str, str] = {name: name for name in BACKGROUNDS} | {"grey": "gray"}

SIZE_TOKENS: dict[str, str] = {
    **{w: "small" for w in ("small", "tiny", "little")},
    **{w: "medium" for w in ("medium", "mid")},
    **{w: "large" for w in ("large", "big", "huge")},
}

SPEED_TOKENS: dict[str, str] = {
    **{w: "slow" for w in ("slow", "slowly", "gently", "gentle", "unhurriedly", "leisurely")},
    **{w: "fast" for w in ("fast", "quick", "quickly", "rapid", "rapidly", "swift", "swiftly", "speedily")},
}

HORIZONTAL: dict[str, str] = {w: "left" for w in ("left", "leftwards", "leftward")}
HORIZONTAL.update({w: "right" for w in ("right", "rightwards", "rightward")})

VERTICAL: dict[str, str] = {
    **{w: "up" for w in ("up", "upwards", "upward", "top", "rising", "rises", "rise", "climbing", "climbs")},
    **{w: "down" for w in ("down", "downwards", "downward", "bottom", "sinking", "sinks", "falling", "falls")},
}

STATIC_TOKENS = frozenset({"still", "static", "motionless", "stationary"})
BOUNCE_TOKENS = frozenset({"bouncing", "bounces", "bounce", "bouncy", "rebounding", "rebounds"})
PAN_VERBS = frozenset({"pans", "pan", "panning", "tracks", "tracking", "moves", "moving", "sweeps", "sweeping"})
CAMERA_STATIC_WORDS = frozenset({"static", "still", "fixed", "stationary", "locked"})
CAMERA_DIRECTIONS: dict[str, str] = {
    **HORIZONTAL,
    **{w: "up" for w in ("up", "upwards", "upward")},
    **{w: "down" for w in ("down", "downwards", "downward")},
}

# multi-word phrases read as one token, longest first
PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("does", "not", "move"), "motionless"),
    (("not", "moving"), "motionless"),
    (("still", "image"), "image"),
    (("high", "speed"), "fast"),
    (("slow", "pace"), "slow"),
)

FILLER = frozenset(
    "a an the of on in at to towards toward into onto over against front background backdrop with while as "
    "and that is it its one from around off wall walls edge edges back forth diagonally video clip picture "
    "image photo scene shape object objects camera pace speed sized across through along frame screen "
    "there which who are very".split()
)


def _vocabulary_from_phrases() -> frozenset[str]:
    """Every word the caption templates can write, so captions never produce unknown words."""
    texts: list[str] = [*BACKGROUND_PHRASES, *CAMERA_PHRASES, *STATIC_CAMERA_PHRASES, *IMAGE_LEADS, *VIDEO_LEADS]
    texts += [w for pair in MOVE_VERBS for w in pair]
    texts += [w for words in (*DIRECTION_COMPLEMENTS.values(), *CAMERA_COMPLEMENTS.values()) for w in words]
    texts += [w for pairs in OWN_VERBS.values() for pair in pairs for w in pair]
    texts += [w for words in (*SIZE_WORDS.values(), *SPEED_ADVERBS.values()) for w in words]
    return frozenset(token for text in texts for token in tokenize(text))


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; hyphens and punctuation separate words (``"up-left"`` -> ``up, left``)."""
    return re.findall(r"[a-z]+", text.lower().replace("{}", " "))


KNOWN_WORDS: frozenset[str] = (
    frozenset(SHAPE_WORDS)
    | frozenset(COLOUR_WORDS)
    | frozenset(BACKGROUND_WORDS)
    | frozenset(SIZE_TOKENS)
    | frozenset(SPEED_TOKENS)
    | frozenset(HORIZONTAL)
    | frozenset(VERTICAL)
    | STATIC_TOKENS
    | BOUNCE_TOKENS
    | PAN_VERBS
    | CAMERA_STATIC_WORDS
    | FILLER
    | _vocabulary_from_phrases()
)


def _merge_phrases(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase, replacement in PHRASES:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                out.append(replacement)
                i += len(phrase)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _take_background(tokens: list[str], used: list[bool], unknown: list[str]) -> str | None:
    background = None
    for i, token in enumerate(tokens):
        if token in BACKGROUND_WORDS:
            background, used[i] = BACKGROUND_WORDS[token], True
        elif token in COLOUR_WORDS and i + 1 < len(tokens) and tokens[i + 1] in ("background", "backdrop"):
            unknown.append(f"{token} {tokens[i + 1]}")  # an object colour cannot be a background here
            used[i] = True
    return background


def _take_camera(tokens: list[str], used: list[bool]) -> str | None:
    camera = None
    for i, token in enumerate(tokens):
        if token == "camera":
            used[i] = True
            before = tokens[i - 1] if i > 0 else ""
            after = tokens[i + 1 : i + 3]
            if before in CAMERA_STATIC_WORDS:
                camera, used[i - 1] = "static", True
            elif len(after) == 2 and after[0] == "is" and after[1] in CAMERA_STATIC_WORDS:
                camera, used[i + 1], used[i + 2] = "static", True, True
        if token in PAN_VERBS and (token.startswith("pan") or (i > 0 and tokens[i - 1] == "camera")):
            for j in range(i + 1, min(i + 4, len(tokens))):
                if tokens[j] in CAMERA_DIRECTIONS:
                    camera = CAMERA_DIRECTIONS[tokens[j]]
                    for k in range(i, j + 1):
                        used[k] = True
                    break
    return camera


def _segments(tokens: list[str]) -> list[list[str]]:
    """Split at "and" into object pieces; a piece without a shape word joins its neighbour."""
    pieces: list[list[str]] = [[]]
    for token in tokens:
        if token == "and":
            pieces.append([])
        else:
            pieces[-1].append(token)
    objects: list[list[str]] = []
    pending: list[str] = []
    for piece in pieces:
        if any(token in SHAPE_WORDS for token in piece):
            objects.append(pending + piece)
            pending = []
        elif objects:
            objects[-1].extend(piece)
        else:
            pending.extend(piece)
    if pending:
        objects.append(pending)
    return [piece for piece in objects if piece]


def _motion(tokens: list[str]) -> str | None:
    if any(token in BOUNCE_TOKENS for token in tokens):
        return "bouncing"
    if any(token in STATIC_TOKENS for token in tokens):
        return "static"
    horizontal = next((HORIZONTAL[t] for t in tokens if t in HORIZONTAL), None)
    vertical = next((VERTICAL[t] for t in tokens if t in VERTICAL), None)
    if horizontal and vertical:
        return f"{vertical}-{horizontal}"
    return horizontal or vertical


def _object(tokens: list[str]) -> ObjectAttributes | None:
    def first(table: dict[str, str]) -> str | None:
        return next((table[t] for t in tokens if t in table), None)

    obj = ObjectAttributes(
        shape=first(SHAPE_WORDS),
        colour=first(COLOUR_WORDS),
        size=first(SIZE_TOKENS),
        motion=_motion(tokens),
        speed=first(SPEED_TOKENS),
    )
    return obj if obj != ObjectAttributes() else None


def parse_prompt(text: str) -> SceneAttributes:
    """The attributes ``text`` asks for; unmentioned fields are ``None``, unknown words listed.

    >>> parse_prompt("moving quickly to the left, a small red circle on a black background").objects[0].motion
    'left'
    """
    tokens = _merge_phrases(tokenize(text))
    used = [False] * len(tokens)
    unknown: list[str] = []
    background = _take_background(tokens, used, unknown)
    camera = _take_camera(tokens, used)
    rest = [token for token, done in zip(tokens, used) if not done]
    objects = tuple(obj for piece in _segments(rest) if (obj := _object(piece)) is not None)
    unknown += [token for token in tokens if token not in KNOWN_WORDS]
    return SceneAttributes(
        objects=objects,
        background=background,
        camera=camera,
        unknown_words=tuple(dict.fromkeys(unknown)),
    )
