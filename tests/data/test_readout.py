"""The analytic readout: accuracy on ground-truth renders, robustness to noise and blur, scoring prompts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest

import zoo  # noqa: F401
from zoo.data.shapes_world import (
    ObjectAttributes,
    ObjectLayout,
    Scene,
    SceneAttributes,
    read_video,
    render,
    sample,
    score,
)
from zoo.data.shapes_world.readout import TEXTURE_AMPLITUDE_LIMIT, TEXTURE_CELL_LIMIT, box_blur, classify_motion, fit_shape
from zoo.data.shapes_world.render import coverage
from zoo.data.shapes_world.vocabulary import SHAPES, SIZES, object_diameter, speed_pixels_per_frame
from zoo.spec.params import component

FIELDS = ("background", "camera", "count", "colour", "shape", "size", "motion", "speed")


def degrade(frames: np.ndarray, seed: int) -> np.ndarray:
    """A 3x3 box blur, then Gaussian noise of std 10 (0-255 units), like a decoded generated video."""
    blurred = box_blur(frames.astype(np.float64), axis=1)
    noisy = blurred + np.random.default_rng(seed).normal(0.0, 10.0, frames.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def accuracies(count: int, noisy: bool, **world: Any) -> tuple[dict[str, float], int, int]:
    """Per-field accuracy of ``score`` against ground truth over ``count`` train samples.

    ``world``: more :func:`sample` settings (the background texture, say).
    """
    hits: dict[str, list[bool]] = defaultdict(list)
    two_objects = pans = 0
    for index in range(count):
        s = sample(index, "train", seed=2024, frames=16, camera_pan_prob=0.5, **world)
        frames = degrade(s.frames, index) if noisy else s.frames
        for name, ok in score(frames, s.attributes).items():
            hits[name].append(ok)
        two_objects += s.attributes.count == 2
        pans += s.attributes.camera != "static"
    return {name: float(np.mean(values)) for name, values in hits.items()}, two_objects, pans


def test_readout_is_at_least_99_percent_right_per_attribute_on_ground_truth():
    acc, two_objects, pans = accuracies(200, noisy=False)
    assert two_objects >= 60 and pans >= 60  # the set covers two-object scenes and camera pans
    assert set(FIELDS) <= set(acc)
    assert min(acc[name] for name in FIELDS) >= 0.99, acc


def test_readout_is_at_least_95_percent_right_under_noise_and_blur():
    acc, _, _ = accuracies(120, noisy=True)
    assert min(acc[name] for name in FIELDS) >= 0.95, acc


def test_readout_of_still_images_has_no_motion_or_camera():
    for index in range(30):
        s = sample(index, "train", seed=9, frames=1)
        got = read_video(s.frames)
        assert got.camera is None and all(obj.motion is None and obj.speed is None for obj in got.objects)
        assert score(s.frames, s.attributes)["all"], (s.attributes, got)


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_fit_finds_each_shape_at_each_size_and_subpixel_offset(shape):
    offsets = [(0.0, 0.0), (0.3, 0.7), (0.5, 0.1), (0.9, 0.45), (0.2, 0.2), (0.6, 0.9)]
    for size, (dx, dy) in zip(list(SIZES) * 2, offsets):
        radius = object_diameter(size, 64, 64) / 2
        cover = coverage(shape, 32 + dx, 30 + dy, radius, (0, 0, 64, 64))
        found, diameter = fit_shape(cover)
        assert found == shape and abs(diameter - 2 * radius) < 0.05 * 2 * radius, (size, found, diameter)


def test_known_pan_with_a_static_object_reads_as_pan_not_motion():
    attributes = SceneAttributes((ObjectAttributes("triangle", "green", "medium", "static"),), "white", "left")
    scene = Scene(attributes, (ObjectLayout(40.0, 30.0, 0.0, 0.0, 8.32),), 16, 64, 64, camera_velocity=(-0.64, 0.0))
    frames = render(scene)
    got = read_video(frames)
    assert got.camera == "left" and got.objects[0].motion == "static" and got.objects[0].speed is None
    # content shifts right on screen while the camera pans left
    assert scene.screen_tracks()[0, -1, 0] > scene.screen_tracks()[0, 0, 0] + 8


def test_classify_motion_on_synthetic_tracks():
    slow = speed_pixels_per_frame("slow", 16, 64, 64)
    fast = speed_pixels_per_frame("fast", 16, 64, 64)
    t = np.arange(16.0)
    line = lambda vx, vy: np.stack([10 + vx * t, 20 + vy * t], axis=1)  # noqa: E731
    assert classify_motion(t, line(-fast, 0), 16, 64, 64) == ("left", "fast")
    assert classify_motion(t, line(slow / 2**0.5, slow / 2**0.5), 16, 64, 64) == ("down-right", "slow")
    assert classify_motion(t, line(0.05, 0.0), 16, 64, 64) == ("static", None)
    bounce = line(fast, 0)
    bounce[8:, 0] = bounce[8, 0] - fast * (t[8:] - 8)
    assert classify_motion(t, bounce, 16, 64, 64) == ("bouncing", "fast")


def test_score_checks_what_a_prompt_asks_and_accepts_dataset_tensors():
    dataset = component("dataset", "shapes-world", size=12, frames=16, max_objects=1, camera_pan_prob=0.0).build()
    moving = next(i for i in range(12) if dataset.sample(i).attributes.objects[0].motion not in ("static", "bouncing"))
    item = dataset[moving]
    truth = SceneAttributes.from_dict(item["attributes"])
    assert read_video(item["video"]) == truth  # (3, T, H, W) float tensor in [-1, 1]
    assert score(item["video"], item["caption"])["all"]
    obj = truth.objects[0]
    other_colour = next(c for c in ("red", "blue") if c != obj.colour)
    wrong = score(item["video"], f"a {obj.size} {other_colour} {obj.shape} on a {truth.background} background")
    assert wrong["colour"] is False and wrong["all"] is False
    opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}
    flipped = "-".join(opposite[part] for part in obj.motion.split("-"))
    wrong_way = score(item["video"], f"a {obj.colour} {obj.shape} moving {flipped}")
    assert wrong_way == {"count": True, "colour": True, "shape": True, "motion": False, "all": False}


def test_readout_of_blank_and_random_frames_does_not_invent_a_scene():
    blank = read_video(np.full((6, 64, 64, 3), 105, dtype=np.uint8))
    assert blank.objects == () and blank.background == "gray" and blank.camera == "static"
    rng = np.random.default_rng(0)
    for frames in (1, 3, 6):
        got = read_video(rng.integers(0, 256, (frames, 32, 32, 3), dtype=np.uint8))  # must not raise
        assert got.background in ("black", "gray", "white", "brown")


@pytest.mark.parametrize("cell, amplitude", [(8, 16), (TEXTURE_CELL_LIMIT, TEXTURE_AMPLITUDE_LIMIT)])
def test_readout_is_at_least_99_percent_right_on_a_coarse_texture(cell, amplitude):
    acc, _, pans = accuracies(60, noisy=False, texture_cell=cell, texture_amplitude=amplitude)
    assert pans >= 15  # the set covers camera pans over the coarse texture
    assert min(acc[name] for name in FIELDS) >= 0.99, acc


def test_a_texture_step_past_the_limit_reads_as_objects():
    acc, _, _ = accuracies(20, noisy=False, texture_cell=8, texture_amplitude=TEXTURE_AMPLITUDE_LIMIT + 2)
    assert acc["count"] < 0.5  # so the limit is what keeps ground truth readable
