"""Attribute targets and accuracies of the probe task, on hand-written Shapes-world attributes."""

from __future__ import annotations

import torch
from torch import nn

from zoo.tasks.attribute_probe import IGNORE, OBJECT_HEADS, SCENE_HEADS, AttributeProbeTask, attribute_targets
from zoo.tasks.optim import OptimizerParams

TWO_OBJECTS = {
    "objects": [
        {"shape": "circle", "colour": "red", "size": "small", "motion": "left", "speed": "fast"},
        {"shape": "square", "colour": "red", "size": "large", "motion": "static", "speed": None},
    ],
    "background": "white",
    "camera": "up",
}
STILL_IMAGE = {
    "objects": [{"shape": "diamond", "colour": "blue", "size": "medium", "motion": None, "speed": None}],
    "background": "black",
    "camera": None,
}


def test_object_targets_are_the_sets_of_values_present_and_scene_targets_are_indices():
    targets = attribute_targets([TWO_OBJECTS, STILL_IMAGE])
    present = {head: [{OBJECT_HEADS[head][i] for i in row.nonzero().flatten().tolist()} for row in targets[head]]
               for head in OBJECT_HEADS}
    assert present["shape"] == [{"circle", "square"}, {"diamond"}]
    assert present["colour"] == [{"red"}, {"blue"}]  # one value, however many objects have it
    assert present["motion"] == [{"left", "static"}, set()]
    assert present["speed"] == [{"fast"}, set()]  # a static object has no speed
    assert targets["background"].tolist() == [SCENE_HEADS["background"].index("white"),
                                              SCENE_HEADS["background"].index("black")]
    assert targets["camera"].tolist() == [SCENE_HEADS["camera"].index("up"), IGNORE]  # stills have no camera
    assert targets["count"].tolist() == [1, 0]  # "2" and "1"


class Oracle(nn.Module):
    """An 'encoder' whose features are the targets themselves, so the right heads are exact."""

    feature_dim = sum(len(v) for v in {**OBJECT_HEADS, **SCENE_HEADS}.values())

    def forward(self, videos):
        return videos.flatten(1)


def test_accuracy_is_one_for_exact_predictions_and_object_heads_need_the_whole_set():
    task = AttributeProbeTask(Oracle(), OptimizerParams(), total_steps=1)
    targets = attribute_targets([TWO_OBJECTS, TWO_OBJECTS])
    features, offset = [], 0
    with torch.no_grad():
        for head, values in {**OBJECT_HEADS, **SCENE_HEADS}.items():
            one_hot = targets[head] if head in OBJECT_HEADS else nn.functional.one_hot(targets[head], len(values))
            features.append(one_hot.float() * 2 - 1)  # +1 where present, -1 elsewhere
            weight = torch.zeros(len(values), Oracle.feature_dim)
            weight[:, offset : offset + len(values)] = torch.eye(len(values)) * 20
            task.heads[head].weight.copy_(weight)
            task.heads[head].bias.zero_()
            offset += len(values)
    video = torch.cat(features, dim=1)
    _, accuracy = task.evaluate({"video": video, "attributes": [TWO_OBJECTS, TWO_OBJECTS]})
    assert all(float(a) == 1.0 for a in accuracy.values()) and set(accuracy) == {*OBJECT_HEADS, *SCENE_HEADS}
    missing_one = video.clone()
    missing_one[0, OBJECT_HEADS["shape"].index("square")] = -1  # the square goes unseen in the first clip
    _, accuracy = task.evaluate({"video": missing_one, "attributes": [TWO_OBJECTS, TWO_OBJECTS]})
    assert float(accuracy["shape"]) == 0.5 and float(accuracy["colour"]) == 1.0
