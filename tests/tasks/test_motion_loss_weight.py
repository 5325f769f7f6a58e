"""motion_loss_weight: the flow-matching error split into its still part and its change over latent frames."""

import pytest
import torch
from pydantic import ValidationError

import zoo
from zoo.tasks.flow_matching import FlowMatchingTask, temporal_deviation_loss
from zoo.tasks.optim import OptimizerParams

TINY = [
    "components.backbone.layers=1",
    "components.backbone.dim=32",
    "components.backbone.heads=2",
    "components.backbone.ffn_dim=64",
]


def test_the_still_part_and_the_deviation_add_up_to_the_squared_error():
    pred, target = torch.randn(2, 3, 4, 5, 5), torch.randn(2, 3, 4, 5, 5)
    error = pred - target
    still = error.mean(dim=2, keepdim=True).expand_as(error).square().mean()
    deviation = temporal_deviation_loss(pred, target)
    assert deviation > 0
    torch.testing.assert_close(still + deviation, error.square().mean())


def test_an_error_that_is_the_same_in_every_frame_has_no_deviation():
    target = torch.randn(2, 3, 4, 5, 5)
    offset = torch.randn(2, 3, 1, 5, 5)  # wrong, but wrong the same way in every latent frame
    assert float(temporal_deviation_loss(target + offset, target)) == pytest.approx(0.0, abs=1e-6)


def test_images_have_no_deviation():
    assert float(temporal_deviation_loss(torch.randn(2, 3, 1, 5, 5), torch.randn(2, 3, 1, 5, 5))) == 0.0


def test_the_task_loss_adds_the_weighted_deviation_and_validation_stays_plain():
    pipe = zoo.load("moviegen-video-tiny", overrides=TINY, weights=False)
    generator = torch.Generator().manual_seed(0)
    batch = {"latents": torch.randn(2, 8, 2, 4, 4, generator=generator), "caption": ["a red circle", "a blue square"]}

    def loss(weight: float, weighted: bool = True) -> float:
        task = FlowMatchingTask(pipe, OptimizerParams(), 10, ema_decay=None, motion_loss_weight=weight)
        with torch.no_grad():
            return float(task.loss(batch, step=5, weighted=weighted))

    plain, double, triple = loss(1.0), loss(2.0), loss(3.0)
    assert double > plain
    assert triple - double == pytest.approx(double - plain, rel=1e-4)  # linear in the weight, same draws
    assert loss(3.0, weighted=False) == pytest.approx(plain, rel=1e-6)


def test_train_recipes_check_the_weight():
    from zoo.recipes.train import TrainRecipeParams

    recipe = {
        "name": "x", "model": {"preset": "moviegen-video-tiny"}, "data": {"type": "latent-cache", "path": "c"},
        "stages": [{"name": "s", "steps": 1}],
    }
    assert TrainRecipeParams.model_validate(recipe).motion_loss_weight == 1.0
    assert TrainRecipeParams.model_validate({**recipe, "motion_loss_weight": 2.0}).motion_loss_weight == 2.0
    with pytest.raises(ValidationError, match="motion_loss_weight"):
        TrainRecipeParams.model_validate({**recipe, "motion_loss_weight": 0})
