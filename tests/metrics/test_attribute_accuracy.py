"""AttributeAccuracy on ground-truth renders of the held-out benchmark, and on deliberately wrong targets."""

import copy

import torch

from zoo.data.shapes_world import sample
from zoo.data.shapes_world.bench import BENCH_SEED, heldout_prompts
from zoo.data.shapes_world.splits import is_heldout
from zoo.metrics.attribute_accuracy import AttributeAccuracy


def renders(count: int) -> torch.Tensor:
    clips = [sample(i, "heldout", BENCH_SEED, max_objects=1).frames for i in range(count)]
    return torch.stack([torch.from_numpy(c).permute(3, 0, 1, 2).float() / 127.5 - 1 for c in clips])


def test_heldout_prompts_are_fixed_one_object_and_held_out():
    prompts = heldout_prompts(16)
    assert prompts == heldout_prompts(16)
    assert len({p.prompt for p in prompts}) == 16
    for p in prompts:
        (obj,) = p.attributes["objects"]
        assert is_heldout(obj["shape"], obj["colour"], obj["motion"])


def test_ground_truth_renders_score_at_least_99_percent():
    prompts = heldout_prompts(24)
    metric = AttributeAccuracy()
    videos = renders(24)
    metric.update(videos[:12], [p.attributes for p in prompts[:12]])
    metric.update(videos[12:], [p.prompt for p in prompts[12:]])  # text prompts are parsed
    result = metric.compute()
    assert {"colour", "shape", "motion", "size", "background", "all"} <= set(result)
    assert all(value >= 0.99 for value in result.values()), result


def test_wrong_targets_score_zero_on_that_attribute_only():
    prompts = heldout_prompts(6)
    wrong = []
    for p in prompts:
        attributes = copy.deepcopy(p.attributes)
        obj = attributes["objects"][0]
        obj["shape"] = "circle" if obj["shape"] != "circle" else "square"
        wrong.append(attributes)
    metric = AttributeAccuracy()
    metric.update(renders(6), wrong)
    result = metric.compute()
    assert result["shape"] == 0.0 and result["all"] == 0.0
    assert result["colour"] == 1.0 and result["motion"] == 1.0
