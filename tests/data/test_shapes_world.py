"""Shapes world: determinism, the held-out split, captions <-> parse_prompt, geometry rules, the dataset."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

import zoo  # noqa: F401
from zoo.data.shapes_world import (
    ObjectAttributes,
    Scene,
    SceneAttributes,
    ShapesWorldParams,
    parse_prompt,
    render,
    sample,
    triples,
)
from zoo.data.shapes_world.captions import (
    BACKGROUND_PHRASES,
    CAMERA_COMPLEMENTS,
    CAMERA_PHRASES,
    DIRECTION_COMPLEMENTS,
    IMAGE_LEADS,
    IMAGE_TEMPLATES,
    MOVE_VERBS,
    OWN_VERBS,
    SIZE_WORDS,
    SPEED_ADVERBS,
    STATIC_CAMERA_PHRASES,
    VIDEO_LEADS,
    VIDEO_TEMPLATES,
    image_caption,
    video_caption,
)
from zoo.data.shapes_world.layout import GAP, MARGIN, bounding_radius
from zoo.data.shapes_world.render import world_texture
from zoo.data.shapes_world.splits import is_heldout
from zoo.data.shapes_world.vocabulary import (
    BACKGROUNDS,
    CAMERAS,
    COLOURS,
    MOTIONS,
    SHAPES,
    SIZES,
    SPEEDS,
    TEXTURE_AMPLITUDE,
    TEXTURE_CELL,
)
from zoo.errors import SpecError
from zoo.registry import get
from zoo.spec.params import component

# -- determinism ------------------------------------------------------------------------------------


def test_same_seed_split_index_gives_byte_identical_frames_and_caption_in_any_order():
    first = [sample(i, "train", seed=3, frames=6, camera_pan_prob=0.5) for i in (4, 1, 7)]
    again = [sample(i, "train", seed=3, frames=6, camera_pan_prob=0.5) for i in (7, 1, 4)][::-1]
    for a, b in zip(first, again):
        assert a.frames.tobytes() == b.frames.tobytes()
        assert a.caption == b.caption and a.attributes == b.attributes and a.key == b.key
    other_seed = sample(4, "train", seed=4, frames=6, camera_pan_prob=0.5)
    other_split = sample(4, "heldout", seed=3, frames=6, camera_pan_prob=0.5)
    assert other_seed.frames.tobytes() != first[0].frames.tobytes()
    assert other_split.frames.tobytes() != first[0].frames.tobytes()
    assert "." not in first[0].key


def test_scene_round_trips_through_json_and_renders_the_same_frames():
    s = sample(11, "train", seed=0, frames=5, camera_pan_prob=1.0)
    restored = Scene.from_dict(json.loads(json.dumps(s.scene.to_dict())))
    assert restored == s.scene
    assert render(restored).tobytes() == s.frames.tobytes()
    assert SceneAttributes.from_dict(json.loads(json.dumps(s.attributes.to_dict()))) == s.attributes


# -- held-out split -----------------------------------------------------------------------------------


def test_heldout_share_is_10_to_15_percent_and_every_value_is_still_trained():
    train, heldout = triples("train"), triples("heldout")
    assert len(train) + len(heldout) == len(SHAPES) * len(COLOURS) * len(MOTIONS) == 240
    assert 0.10 <= len(heldout) / 240 <= 0.15
    assert {t[0] for t in train} == set(SHAPES)
    assert {t[1] for t in train} == set(COLOURS)
    assert {t[2] for t in train} == set(MOTIONS)
    assert not set(train) & set(heldout)


def test_train_samples_never_show_a_heldout_combination_and_heldout_samples_always_do():
    for index in range(400):
        s = sample(index, "train", seed=1, frames=3, height=32, width=32)
        for obj in s.attributes.objects:
            assert not is_heldout(obj.shape, obj.colour, obj.motion), (index, obj)
    for index in range(100):
        first = sample(index, "heldout", seed=1, frames=3, height=32, width=32).attributes.objects[0]
        assert is_heldout(first.shape, first.colour, first.motion)


def test_every_attribute_value_appears_in_training_samples():
    seen: dict[str, set] = {name: set() for name in ("shape", "colour", "size", "motion", "speed", "bg", "camera")}
    counts = set()
    for index in range(300):
        a = sample(index, "train", seed=2, frames=3, height=32, width=32, camera_pan_prob=0.5).attributes
        counts.add(a.count)
        seen["bg"].add(a.background)
        seen["camera"].add(a.camera)
        for obj in a.objects:
            for name in ("shape", "colour", "size", "motion", "speed"):
                seen[name].add(getattr(obj, name))
    assert seen["shape"] == set(SHAPES) and seen["colour"] == set(COLOURS) and seen["size"] == set(SIZES)
    assert seen["motion"] == set(MOTIONS) and seen["speed"] == {*SPEEDS, None}
    assert seen["bg"] == set(BACKGROUNDS) and seen["camera"] == set(CAMERAS) and counts == {1, 2}


# -- geometry -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames, height, width", [(1, 32, 32), (2, 34, 32), (3, 32, 48), (9, 64, 40), (40, 64, 64)])
def test_objects_stay_inside_the_frame_and_apart_for_any_format(frames, height, width):
    for index in range(40):
        s = sample(index, "train", seed=5, frames=frames, height=height, width=width, camera_pan_prob=0.5)
        assert s.frames.shape == (frames, height, width, 3) and s.frames.dtype == np.uint8
        tracks = s.scene.screen_tracks()
        for layout, track in zip(s.scene.layouts, tracks):
            assert (track - layout.radius >= MARGIN - 1e-9).all()
            assert (track[:, 0] + layout.radius <= width - MARGIN + 1e-9).all()
            assert (track[:, 1] + layout.radius <= height - MARGIN + 1e-9).all()
        if len(tracks) == 2:
            (a, b), (la, lb) = s.attributes.objects, s.scene.layouts
            apart = bounding_radius(a.shape, la.radius) + bounding_radius(b.shape, lb.radius) + GAP
            assert np.linalg.norm(tracks[0] - tracks[1], axis=1).min() >= apart - 1e-9
        assert len({obj.colour for obj in s.attributes.objects}) == s.attributes.count


def horizontal_starts(entry_band: float) -> tuple[np.ndarray, np.ndarray]:
    """Start x of objects moving right and of objects moving left (no pan, no bounce), 200 clips."""
    starts: dict[int, list[float]] = {1: [], -1: []}
    for index in range(200):
        s = sample(index, "train", seed=6, frames=16, height=64, width=64, max_objects=1, entry_band=entry_band)
        layout = s.scene.layouts[0]
        if s.attributes.camera not in (None, "static") or layout.bounce_axis is not None or layout.vx == 0:
            continue
        starts[int(np.sign(layout.vx))].append(layout.x)
    return np.array(starts[1]), np.array(starts[-1])


def test_with_an_entry_band_moving_objects_start_on_the_side_they_come_from():
    rightward, leftward = horizontal_starts(0.2)
    assert len(rightward) > 10 and len(leftward) > 10
    # start ranges are [r + 1, 63 - r - path]: their first fifth ends before a third of the frame
    assert (rightward < 64 / 3).all() and (leftward > 2 * 64 / 3).all()
    rightward, leftward = horizontal_starts(1.0)  # the default: anywhere
    assert (rightward > 64 / 3).any() and (leftward < 2 * 64 / 3).any()
    with pytest.raises(ValueError, match="entry_band"):
        sample(0, entry_band=0.0)


def test_bad_formats_are_rejected():
    with pytest.raises(ValueError):
        sample(0, frames=4, height=33, width=32)
    with pytest.raises(ValueError):
        sample(0, "heldout", frames=1)
    with pytest.raises(ValueError):
        ShapesWorldParams(height=62, width=63)
    with pytest.raises(ValueError):
        ShapesWorldParams(split="heldout", frames=1)


# -- captions and parse_prompt --------------------------------------------------------------------------


def _random_attributes(rng: np.random.Generator, count: int, still: bool = False) -> SceneAttributes:
    colours = rng.permutation(list(COLOURS))[:count]
    objects = []
    for colour in colours:
        motion = None if still else str(rng.choice(MOTIONS))
        speed = None if motion in (None, "static") else str(rng.choice(list(SPEEDS)))
        shape, size = str(rng.choice(SHAPES)), str(rng.choice(list(SIZES)))
        objects.append(ObjectAttributes(shape, str(colour), size, motion, speed))
    camera = None if still else str(rng.choice(CAMERAS))
    return SceneAttributes(tuple(objects), str(rng.choice(list(BACKGROUNDS))), camera)


def _same(parsed: SceneAttributes, truth: SceneAttributes) -> bool:
    camera_ok = parsed.camera == truth.camera or (truth.camera == "static" and parsed.camera is None)
    return parsed.objects == truth.objects and parsed.background == truth.background and camera_ok


@pytest.mark.parametrize("template", VIDEO_TEMPLATES)
def test_parse_prompt_recovers_video_caption_attributes(template):
    rng = np.random.default_rng(0)
    for _ in range(150):
        truth = _random_attributes(rng, 1 if template == "motion-first" else int(rng.integers(1, 3)))
        caption = video_caption(truth, rng, template)
        parsed = parse_prompt(caption)
        assert _same(parsed, truth), (caption, parsed)
        assert parsed.unknown_words == (), caption


@pytest.mark.parametrize("template", IMAGE_TEMPLATES)
def test_parse_prompt_recovers_image_caption_attributes_without_motion(template):
    rng = np.random.default_rng(1)
    for _ in range(100):
        truth = _random_attributes(rng, int(rng.integers(1, 3)), still=True)
        caption = image_caption(truth, rng, template)
        parsed = parse_prompt(caption)
        assert parsed == truth, (caption, parsed)


def test_parse_prompt_reads_every_phrase_of_every_bank():
    """Exhaustive over the phrase banks: each verb x direction, own verb, adverb position, size, lead."""
    for motion, complements in DIRECTION_COMPLEMENTS.items():
        for (participle, finite), complement in itertools.product(MOVE_VERBS, complements):
            for verb in (participle, finite):
                got = parse_prompt(f"a red circle {verb} {complement}").objects[0]
                assert got.motion == motion, (verb, complement, got)
    for motion, pairs in OWN_VERBS.items():
        for phrase in itertools.chain.from_iterable(pairs):
            assert parse_prompt(f"a blue square {phrase}").objects[0].motion == motion, phrase
    for speed, adverbs in SPEED_ADVERBS.items():
        for adverb in adverbs:
            assert parse_prompt(f"a green diamond moving up {adverb}").objects[0].speed == speed, adverb
            if " " not in adverb:
                assert parse_prompt(f"a green diamond {adverb} moves up").objects[0].speed == speed, adverb
    for size, words in SIZE_WORDS.items():
        for word in words:
            assert parse_prompt(f"a {word} cyan triangle").objects[0].size == size, word
    for phrase, background in itertools.product(BACKGROUND_PHRASES, BACKGROUNDS):
        assert parse_prompt(f"a red circle {phrase.format(background)}").background == background
    for camera, complements in CAMERA_COMPLEMENTS.items():
        for phrase, complement in itertools.product(CAMERA_PHRASES, complements):
            parsed = parse_prompt(f"a red circle moving left, {phrase.format(complement)}")
            assert parsed.camera == camera and parsed.objects[0].motion == "left", (phrase, complement)
    for phrase in STATIC_CAMERA_PHRASES:
        parsed = parse_prompt(f"a red circle bouncing {phrase}")
        assert parsed.camera == "static" and parsed.objects[0].motion == "bouncing", phrase
    for lead in (*IMAGE_LEADS, *VIDEO_LEADS):
        parsed = parse_prompt(f"{lead}a small red circle on a black background")
        assert parsed.objects == (ObjectAttributes("circle", "red", "small"),) and not parsed.unknown_words, lead


def test_parse_prompt_reads_user_words_and_lists_unknown_ones():
    parsed = parse_prompt("A huge purple ball zooming towards the top right, quickly; grey backdrop")
    assert parsed.objects == (ObjectAttributes("circle", "magenta", "large", "up-right", "fast"),)
    assert parsed.background == "gray" and parsed.camera is None
    assert parsed.unknown_words == ("zooming",)
    odd = parse_prompt("an orange star moving left on a blue background")
    assert odd.objects[0].motion == "left" and odd.objects[0].shape is None and odd.background is None
    assert set(odd.unknown_words) == {"orange", "star", "blue background"}
    assert parse_prompt("") == SceneAttributes()


# -- dataset ------------------------------------------------------------------------------------------


def test_dataset_items_have_the_documented_shapes_dtypes_and_ranges():
    spec = component("dataset", "shapes-world", size=8, frames=4)
    dataset = spec.build()
    assert len(dataset) == 8
    for index in range(len(dataset)):
        item = dataset[index]
        video = item["video"]
        assert video.shape == (3, 4, 64, 64) and video.dtype == torch.float32
        assert -1.0 <= float(video.min()) and float(video.max()) <= 1.0 and float(video.std()) > 0.05
        assert isinstance(item["caption"], str) and item["caption"]
        assert "." not in item["key"] and item["fps"] == 16
        assert SceneAttributes.from_dict(json.loads(json.dumps(item["attributes"]))).count in (1, 2)
        raw = dataset.sample(index).frames
        assert torch.equal(torch.from_numpy(raw).permute(3, 0, 1, 2).float() / 127.5 - 1, video)
    with pytest.raises(IndexError):
        dataset[8]
    images = component("dataset", "shapes-world", size=4, frames=4, image_fraction=1.0).build()
    item = images[0]
    assert item["video"].shape == (3, 1, 64, 64) and item["attributes"]["camera"] is None
    assert all(obj["motion"] is None for obj in item["attributes"]["objects"])


def test_registry_round_trip():
    entry = get("dataset", "shapes-world")
    assert entry.params is ShapesWorldParams
    spec = component("dataset", "shapes-world", size=8, frames=4)
    again = component("dataset", **spec.model_dump())
    assert again == spec and again.params.size == 8 and again.params.frames == 4
    assert spec.replace(split="heldout").build()[0]["key"].startswith("shapes-world-heldout-s0-")


# -- background texture -------------------------------------------------------------------------------


def test_texture_settings_change_only_the_background_texture():
    fine = sample(5, "train", seed=3, frames=4, camera_pan_prob=1.0)
    coarse = sample(5, "train", seed=3, frames=4, camera_pan_prob=1.0, texture_cell=8, texture_amplitude=16)
    assert coarse.attributes == fine.attributes and coarse.caption == fine.caption
    assert coarse.scene.layouts == fine.scene.layouts and coarse.scene.texture_seed == fine.scene.texture_seed
    assert coarse.frames.tobytes() != fine.frames.tobytes()
    texture = world_texture(coarse.scene.texture_seed, 64, 64, cell=8, amplitude=16)
    blocks = texture[: texture.shape[0] // 8 * 8, : texture.shape[1] // 8 * 8].reshape(
        texture.shape[0] // 8, 8, texture.shape[1] // 8, 8
    )
    assert (blocks == blocks[:, :1, :, :1]).all()  # every 8x8 cell is one value
    assert set(np.unique(texture)) == {-16.0, 0.0, 16.0}
    assert set(np.unique(world_texture(0, 64, 64))) == {-12.0, 0.0, 12.0}  # the default: 2-pixel cells of 12


def test_scenes_written_without_texture_settings_read_with_the_defaults():
    s = sample(2, "train", seed=1, frames=3, texture_cell=4, texture_amplitude=20)
    data = json.loads(json.dumps(s.scene.to_dict()))
    assert Scene.from_dict(data) == s.scene
    del data["texture_cell"], data["texture_amplitude"]
    old = Scene.from_dict(data)
    assert (old.texture_cell, old.texture_amplitude) == (TEXTURE_CELL, TEXTURE_AMPLITUDE)
    with pytest.raises(ValueError, match="texture_cell"):
        Scene(s.scene.attributes, s.scene.layouts, 3, 64, 64, texture_cell=0)


@pytest.mark.parametrize("field, value", [("texture_cell", 0), ("texture_cell", 16), ("texture_amplitude", -1.0),
                                          ("texture_amplitude", 26.0)])
def test_dataset_texture_settings_out_of_range_are_rejected(field, value):
    with pytest.raises(SpecError, match=field):
        component("dataset", "shapes-world", size=2, frames=2, **{field: value})


def test_dataset_passes_texture_settings_to_the_world():
    dataset = component("dataset", "shapes-world", size=2, frames=2, texture_cell=8, texture_amplitude=16).build()
    scene = dataset.sample(1).scene
    assert (scene.texture_cell, scene.texture_amplitude) == (8, 16)


# -- motion weights -----------------------------------------------------------------------------------


def _first_motions(n: int, split: str = "train", **kwargs) -> list[str]:
    return [sample(i, split, seed=2, frames=3, height=32, width=32, max_objects=1, camera_pan_prob=0.0,
                   **kwargs).attributes.objects[0].motion for i in range(n)]


def test_motion_weights_set_each_motions_share_of_the_draws():
    weights = {"bouncing": 4.0, "left": 2.0, "static": 0.0}
    motions = _first_motions(1300, motion_weights=weights)
    total = sum(weights.get(m, 1.0) for m in MOTIONS)  # 4 + 2 + 0 + 7 x 1 = 13
    for motion in MOTIONS:
        expected = weights.get(motion, 1.0) / total
        share = motions.count(motion) / len(motions)
        assert abs(share - expected) < 4 * (expected * (1 - expected) / len(motions)) ** 0.5 + 1e-9, motion
    assert "static" not in motions
    default = _first_motions(400)
    assert default.count("bouncing") < 0.2 * len(default) < motions.count("bouncing") / len(motions) * len(default)


def test_motion_weights_keep_the_split_and_none_keeps_the_default_world():
    weighted = [sample(i, "heldout", seed=2, frames=3, motion_weights={"bouncing": 5.0}) for i in range(40)]
    assert all(is_heldout(o.shape, o.colour, o.motion) for o in (s.attributes.objects[0] for s in weighted))
    assert sum(s.attributes.objects[0].motion == "bouncing" for s in weighted) > 0
    train = [sample(i, "train", seed=2, frames=3, motion_weights={"down": 5.0}) for i in range(40)]
    assert not any(is_heldout(o.shape, o.colour, o.motion) for s in train for o in s.attributes.objects)
    for i in range(5):
        assert sample(i, frames=3, motion_weights=None).frames.tobytes() == sample(i, frames=3).frames.tobytes()


def test_bad_motion_weights_are_rejected_with_the_closest_motion():
    with pytest.raises(ValueError, match="did you mean 'bouncing'"):
        sample(0, frames=3, motion_weights={"bouncng": 2.0})
    with pytest.raises(ValueError, match=">= 0"):
        sample(0, frames=3, motion_weights={"left": -1.0})
    with pytest.raises(ValueError, match="weight 0"):
        sample(0, frames=3, motion_weights=dict.fromkeys(MOTIONS, 0.0))
    with pytest.raises(SpecError, match="motion_weights"):
        component("dataset", "shapes-world", size=2, frames=2, motion_weights={"sideways": 1.0})


def test_dataset_passes_motion_weights_to_the_world():
    dataset = component("dataset", "shapes-world", size=30, frames=3, max_objects=1,
                        motion_weights={m: (1.0 if m == "up" else 0.0) for m in MOTIONS}).build()
    assert {dataset.sample(i).attributes.objects[0].motion for i in range(30)} == {"up"}
