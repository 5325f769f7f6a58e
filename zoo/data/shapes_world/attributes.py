"""What a Shapes-world clip shows, in words: objects, background and camera.

The same types hold ground truth (every field set), a parsed prompt (fields the prompt does not
mention are ``None``) and a readout from pixels. All are JSON-serialisable through ``to_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FIELDS: tuple[str, ...] = ("shape", "colour", "size", "motion", "speed")
"""The attributes of one object, in caption order."""


@dataclass(frozen=True)
class ObjectAttributes:
    """One object. ``motion`` and ``speed`` are ``None`` for still images; ``speed`` is ``None`` when static."""

    shape: str | None = None
    colour: str | None = None
    size: str | None = None
    motion: str | None = None
    speed: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectAttributes:
        return cls(**{name: data.get(name) for name in FIELDS})


@dataclass(frozen=True)
class SceneAttributes:
    """A scene: its objects (1 or 2 in generated data), background colour and camera motion.

    ``camera`` is ``None`` for still images and for prompts that do not mention the camera.
    ``unknown_words`` lists prompt words outside the vocabulary (empty for ground truth and readouts).
    """

    objects: tuple[ObjectAttributes, ...] = ()
    background: str | None = None
    camera: str | None = None
    unknown_words: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        """Number of objects."""
        return len(self.objects)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "objects": [obj.to_dict() for obj in self.objects],
            "background": self.background,
            "camera": self.camera,
        }
        if self.unknown_words:
            data["unknown_words"] = list(self.unknown_words)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneAttributes:
        return cls(
            objects=tuple(ObjectAttributes.from_dict(obj) for obj in data.get("objects", ())),
            background=data.get("background"),
            camera=data.get("camera"),
            unknown_words=tuple(data.get("unknown_words", ())),
        )
