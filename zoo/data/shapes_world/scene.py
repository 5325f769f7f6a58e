"""Where things are: the exact geometry of a Shapes-world clip, enough to render it again.

A :class:`Scene` is the words (:class:`SceneAttributes`) plus the numbers behind them: each object's
start position, velocity and bounce, the camera velocity and the background texture (seed, cell side
and grey step). Positions
are in pixels, ``x`` to the right and ``y`` downwards, pixel ``(i, j)`` covering ``[j, j+1) x [i, i+1)``.

Objects move in *world* coordinates; the camera offset ``c(t) = round(camera_velocity * t)`` (whole
pixels, so the background texture stays crisp) is subtracted to get *screen* coordinates. At frame 0
the two coincide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from zoo.data.shapes_world.attributes import ObjectAttributes, SceneAttributes
from zoo.data.shapes_world.vocabulary import TEXTURE_AMPLITUDE, TEXTURE_CELL


@dataclass(frozen=True)
class ObjectLayout:
    """One object's trajectory: centre ``(x, y)`` at frame 0, velocity in pixels per frame, radius in pixels.

    With ``bounce_frame`` set, the velocity component along ``bounce_axis`` ("x" or "y") flips sign
    after that frame, as when the object hits a wall.
    """

    x: float
    y: float
    vx: float
    vy: float
    radius: float
    bounce_frame: int | None = None
    bounce_axis: str | None = None

    def world_track(self, frames: int) -> np.ndarray:
        """``(T, 2)`` float64 world centres ``(x, y)`` for frames ``0 .. frames - 1``."""
        t = np.arange(frames, dtype=np.float64)
        before = np.minimum(t, self.bounce_frame) if self.bounce_frame is not None else t
        after = t - before
        sx = -1.0 if self.bounce_axis == "x" else 1.0
        sy = -1.0 if self.bounce_axis == "y" else 1.0
        x = self.x + self.vx * before + sx * self.vx * after
        y = self.y + self.vy * before + sy * self.vy * after
        return np.stack([x, y], axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "vx": self.vx,
            "vy": self.vy,
            "radius": self.radius,
            "bounce_frame": self.bounce_frame,
            "bounce_axis": self.bounce_axis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectLayout:
        return cls(**data)


def camera_offsets(velocity: tuple[float, float], frames: int) -> np.ndarray:
    """``(T, 2)`` int64 camera offsets ``(x, y)`` in whole pixels; frame 0 is at ``(0, 0)``."""
    t = np.arange(frames, dtype=np.float64)[:, None]
    return np.rint(t * np.asarray(velocity, dtype=np.float64)[None, :]).astype(np.int64)


@dataclass(frozen=True)
class Scene:
    """A renderable clip: attributes, one layout per object, frame format, camera and background texture.

    The texture is ``texture_seed``'s random cells of side ``texture_cell`` pixels, ``texture_amplitude``
    grey levels above or below the background colour.
    """

    attributes: SceneAttributes
    layouts: tuple[ObjectLayout, ...]
    frames: int
    height: int
    width: int
    camera_velocity: tuple[float, float] = (0.0, 0.0)
    texture_seed: int = 0
    texture_cell: int = TEXTURE_CELL
    texture_amplitude: float = TEXTURE_AMPLITUDE

    def __post_init__(self) -> None:
        if self.texture_cell < 1 or self.texture_amplitude < 0:
            raise ValueError(f"need texture_cell >= 1 and texture_amplitude >= 0, got {self.texture_cell}, "
                             f"{self.texture_amplitude}")
        if len(self.layouts) != len(self.attributes.objects):
            raise ValueError(f"{len(self.attributes.objects)} objects but {len(self.layouts)} layouts")

    @property
    def objects(self) -> tuple[tuple[ObjectAttributes, ObjectLayout], ...]:
        """``(attributes, layout)`` per object, in drawing order."""
        return tuple(zip(self.attributes.objects, self.layouts))

    def camera_track(self) -> np.ndarray:
        """``(T, 2)`` int64 camera offsets in pixels."""
        return camera_offsets(self.camera_velocity, self.frames)

    def screen_tracks(self) -> np.ndarray:
        """``(N, T, 2)`` float64 screen centres of the ``N`` objects."""
        camera = self.camera_track()
        return np.stack([layout.world_track(self.frames) - camera for layout in self.layouts])

    def with_attributes(self, **changes: Any) -> Scene:
        """A copy with scene-level attributes changed (e.g. ``background="white"``), for edit pairs."""
        return replace(self, attributes=replace(self.attributes, **changes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes.to_dict(),
            "layouts": [layout.to_dict() for layout in self.layouts],
            "frames": self.frames,
            "height": self.height,
            "width": self.width,
            "camera_velocity": list(self.camera_velocity),
            "texture_seed": self.texture_seed,
            "texture_cell": self.texture_cell,
            "texture_amplitude": self.texture_amplitude,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        return cls(
            attributes=SceneAttributes.from_dict(data["attributes"]),
            layouts=tuple(ObjectLayout.from_dict(layout) for layout in data["layouts"]),
            frames=int(data["frames"]),
            height=int(data["height"]),
            width=int(data["width"]),
            camera_velocity=(float(data["camera_velocity"][0]), float(data["camera_velocity"][1])),
            texture_seed=int(data["texture_seed"]),
            # scenes written before the texture had settings used the defaults
            texture_cell=int(data.get("texture_cell", TEXTURE_CELL)),
            texture_amplitude=float(data.get("texture_amplitude", TEXTURE_AMPLITUDE)),
        )
