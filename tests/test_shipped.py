"""Every shipped spec and recipe validates and round-trips; generated from the folders themselves."""

import pytest

from zoo.spec import catalog
from zoo.spec.load import load_recipe, load_spec

PRESETS = catalog.names("specs")
RECIPES = catalog.names("recipes")


def test_presets_are_shipped():
    assert {"moviegen-video", "moviegen-video-5b", "moviegen-tae"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_validates_and_round_trips(name, tmp_path):
    spec = load_spec(name)
    assert spec.name == name, "a preset's name must match its file name"
    again = tmp_path / f"{name}.yaml"
    again.write_text(spec.to_yaml())
    assert load_spec(str(again)) == spec


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_validates(name):
    load_recipe(name)


def test_paper_preset_counts_and_token_shapes():
    import zoo

    report = zoo.info("moviegen-video")
    backbone = next(row for row in report.components if row.role == "backbone")
    assert 29e9 < backbone.parameters < 31e9  # "30B", counting the transformer only (paper §3.1.3)
    assert report.latent_shape == (16, 32, 96, 96)  # 768 px, 256 frames, TAE 8x8x8, 16 channels
    assert report.tokens == 73_728  # the paper's maximum context
    small = zoo.info("moviegen-video-5b")
    backbone = next(row for row in small.components if row.role == "backbone")
    assert 4.5e9 < backbone.parameters < 5.5e9
    assert small.latent_shape == (16, 16, 24, 44)  # the ablation latent of the paper's 5B runs
