"""Captions: many phrasings of the same attributes, so a model has to read the words.

A caption names every attribute of every object (size, colour, shape, motion and, when moving, the
speed), the background and, when panning, the camera. The phrasing varies by synonyms ("moving
left", "travelling to the left", "drifting leftwards"), by word order ("a red circle moving left",
"moving left, a red circle", "on a black background a red circle moves left") and by where the speed
adverb sits. Two objects are joined with "and". Still images get captions without motion words.

All choices come from the ``rng`` passed in, so a sample's caption is as deterministic as its frames.
:mod:`zoo.data.shapes_world.prompt` parses every phrasing produced here.
"""

from __future__ import annotations

import numpy as np

from zoo.data.shapes_world.attributes import ObjectAttributes, SceneAttributes

SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "tiny", "little"),
    "medium": ("medium", "medium-sized", "mid-sized"),
    "large": ("large", "big"),
}

SPEED_ADVERBS: dict[str, tuple[str, ...]] = {
    "slow": ("slowly", "gently", "at a slow pace", "unhurriedly"),
    "fast": ("quickly", "fast", "rapidly", "at high speed", "swiftly"),
}

# (present participle, third person) of the verbs that take a direction complement
MOVE_VERBS: tuple[tuple[str, str], ...] = (
    ("moving", "moves"),
    ("travelling", "travels"),
    ("heading", "heads"),
    ("drifting", "drifts"),
    ("sliding", "slides"),
    ("gliding", "glides"),
)

DIRECTION_COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "left": ("left", "to the left", "leftwards", "towards the left"),
    "right": ("right", "to the right", "rightwards", "towards the right"),
    "up": ("up", "upwards", "towards the top"),
    "down": ("down", "downwards", "towards the bottom"),
    "up-left": ("up and to the left", "towards the top left", "diagonally up-left", "up and left"),
    "up-right": ("up and to the right", "towards the top right", "diagonally up-right", "up and right"),
    "down-left": ("down and to the left", "towards the bottom left", "diagonally down-left", "down and left"),
    "down-right": ("down and to the right", "towards the bottom right", "diagonally down-right", "down and right"),
}

# motions said with a verb of their own: (participle phrase, third-person phrase)
OWN_VERBS: dict[str, tuple[tuple[str, str], ...]] = {
    "up": (("rising", "rises"), ("climbing", "climbs")),
    "down": (("sinking", "sinks"), ("falling", "falls")),
    "static": (
        ("standing still", "stands still"),
        ("staying still", "stays still"),
        ("not moving", "does not move"),
        ("resting motionless", "rests motionless"),
        ("holding still", "holds still"),
    ),
    "bouncing": (
        ("bouncing", "bounces"),
        ("bouncing off a wall", "bounces off a wall"),
        ("bouncing back", "bounces back"),
        ("rebounding off the edge", "rebounds off the edge"),
    ),
}

BACKGROUND_PHRASES: tuple[str, ...] = (
    "on a {} background",
    "against a {} background",
    "over a {} backdrop",
    "in front of a {} background",
)

CAMERA_PHRASES: tuple[str, ...] = (
    "as the camera pans {}",
    "while the camera pans {}",
    "with the camera panning {}",
    "as the camera tracks {}",
)

CAMERA_COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "left": ("left", "to the left"),
    "right": ("right", "to the right"),
    "up": ("up", "upwards"),
    "down": ("down", "downwards"),
}

STATIC_CAMERA_PHRASES: tuple[str, ...] = ("with a static camera", "seen from a fixed camera", "the camera is still")

IMAGE_LEADS: tuple[str, ...] = ("", "a picture of ", "an image of ", "a still image of ", "a photo of ")

VIDEO_LEADS: tuple[str, ...] = ("", "", "a video of ", "a clip of ")


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def noun_phrase(obj: ObjectAttributes, rng: np.random.Generator) -> str:
    """``"a big red circle"``: article, size, colour, shape."""
    return f"a {_pick(rng, SIZE_WORDS[obj.size])} {obj.colour} {obj.shape}"


def verb_phrase(obj: ObjectAttributes, rng: np.random.Generator, finite: bool) -> str:
    """The motion with its speed adverb: ``"moving quickly to the left"`` or, finite, ``"quickly moves left"``."""
    form = 1 if finite else 0
    own = OWN_VERBS.get(obj.motion, ())
    use_own = obj.motion in ("static", "bouncing") or (own and rng.random() < 0.3)
    if use_own:
        phrase = _pick(rng, [pair[form] for pair in own])
    else:
        verb = MOVE_VERBS[int(rng.integers(len(MOVE_VERBS)))][form]
        phrase = f"{verb} {_pick(rng, DIRECTION_COMPLEMENTS[obj.motion])}"
    if obj.speed is None:
        return phrase
    adverb = _pick(rng, SPEED_ADVERBS[obj.speed])
    if " " not in adverb and rng.random() < 0.5:
        return f"{adverb} {phrase}"
    return f"{phrase} {adverb}"


def background_phrase(background: str, rng: np.random.Generator) -> str:
    """``"on a black background"``."""
    return _pick(rng, BACKGROUND_PHRASES).format(background)


def camera_phrase(camera: str, rng: np.random.Generator) -> str:
    """``"as the camera pans left"``; a static camera is named one time in three, else ``""``."""
    if camera == "static":
        return _pick(rng, STATIC_CAMERA_PHRASES) if rng.random() < 1 / 3 else ""
    return _pick(rng, CAMERA_PHRASES).format(_pick(rng, CAMERA_COMPLEMENTS[camera]))


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _object_clause(obj: ObjectAttributes, rng: np.random.Generator) -> str:
    """One object in one of three orders: participle, relative clause or finite verb."""
    noun = noun_phrase(obj, rng)
    form = int(rng.integers(3))
    if form == 0:
        return f"{noun} {verb_phrase(obj, rng, finite=False)}"
    if form == 1:
        return f"{noun} that {verb_phrase(obj, rng, finite=True)}"
    return f"{noun} {verb_phrase(obj, rng, finite=True)}"


VIDEO_TEMPLATES: tuple[str, ...] = ("clauses-bg", "bg-clauses", "motion-first", "bg-first-finite")
"""Scene orders: objects then background, background then objects, motion before the noun, and a
background lead with finite verbs ("on a black background a red circle moves left")."""


def video_caption(attributes: SceneAttributes, rng: np.random.Generator, template: str | None = None) -> str:
    """A caption for a clip; ``template`` (one of :data:`VIDEO_TEMPLATES`) is drawn from ``rng`` when ``None``."""
    objects = attributes.objects
    if template is None:
        allowed = VIDEO_TEMPLATES if len(objects) == 1 else ("clauses-bg", "bg-clauses", "bg-first-finite")
        template = _pick(rng, allowed)
    background = background_phrase(attributes.background, rng)
    if template == "motion-first":
        if len(objects) != 1:
            raise ValueError("the motion-first template describes a single object")
        obj = objects[0]
        body = f"{verb_phrase(obj, rng, finite=False)}, {noun_phrase(obj, rng)} {background}"
    elif template == "clauses-bg":
        body = _pick(rng, VIDEO_LEADS) + " and ".join(_object_clause(obj, rng) for obj in objects) + f" {background}"
    elif template == "bg-clauses":
        body = f"{background}, " + " and ".join(_object_clause(obj, rng) for obj in objects)
    elif template == "bg-first-finite":
        clauses = [f"{noun_phrase(obj, rng)} {verb_phrase(obj, rng, finite=True)}" for obj in objects]
        body = f"{background} " + " and ".join(clauses)
    else:
        raise ValueError(f"unknown video template '{template}', expected one of {VIDEO_TEMPLATES}")
    camera = camera_phrase(attributes.camera or "static", rng)
    if camera:
        leads_with_noun = body.startswith(("a video of", "a clip of"))
        body = f"{body}, {camera}" if leads_with_noun or rng.random() < 0.7 else f"{camera}, {body}"
    return _capitalise(body)


IMAGE_TEMPLATES: tuple[str, ...] = ("nouns-bg", "bg-nouns")


def image_caption(attributes: SceneAttributes, rng: np.random.Generator, template: str | None = None) -> str:
    """A caption for a still image: objects and background, no motion or camera words."""
    if template is None:
        template = _pick(rng, IMAGE_TEMPLATES)
    nouns = " and ".join(noun_phrase(obj, rng) for obj in attributes.objects)
    background = background_phrase(attributes.background, rng)
    if template == "nouns-bg":
        return _capitalise(f"{_pick(rng, IMAGE_LEADS)}{nouns} {background}")
    if template == "bg-nouns":
        return _capitalise(f"{background}, {nouns}")
    raise ValueError(f"unknown image template '{template}', expected one of {IMAGE_TEMPLATES}")
