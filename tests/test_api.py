import warnings

import pytest
import torch

import zoo
from zoo import api
from zoo.errors import UnknownNameError, WeightsError
from zoo.io.weights import save_safetensors


def test_list_presets_and_registered_kinds():
    assert "moviegen-video" in zoo.list()
    assert zoo.list("moviegen-video*") == sorted(n for n in zoo.list() if n.startswith("moviegen-video"))
    assert "moviegen-transformer" in zoo.list(kind="backbone")
    assert zoo.list("linear*", kind="schedule") == ["linear", "linear-quadratic"]
    with pytest.raises(UnknownNameError, match="did you mean|Did you mean"):
        zoo.list(kind="backbones")


def test_load_builds_pipeline_with_components_and_spec(toy_spec):
    pipe = zoo.load(str(toy_spec))
    assert pipe.spec.name == "toy"
    assert isinstance(pipe.backbone, torch.nn.Sequential) and len(pipe.backbone) == 2
    assert pipe.parameter_counts() == {"backbone": 2 * (8 * 8 + 8), "text_encoders.0": 3 * 4 + 4}


def test_load_applies_overrides(toy_spec):
    pipe = zoo.load(str(toy_spec), overrides=["components.backbone.layers=3"])
    assert len(pipe.backbone) == 3 and pipe.spec.components.backbone.params.layers == 3


def test_weights_round_trip_with_sha256(toy_spec, tmp_path):
    pipe = zoo.load(str(toy_spec))
    path = tmp_path / "w.safetensors"
    digest = save_safetensors(pipe.state_dict(), str(path))
    again = zoo.load(str(toy_spec), overrides=[f"weights={{uri: '{path}', sha256: {digest}}}"])
    for key, value in pipe.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)
    with pytest.raises(WeightsError, match="sha256"):
        zoo.load(str(toy_spec), overrides=[f"weights={{uri: '{path}', sha256: '{'0' * 64}'}}"])


def test_too_large_models_are_built_on_meta_with_a_notice(monkeypatch, toy_spec):
    monkeypatch.setattr(api, "available_memory_bytes", lambda device=None: 100)
    with pytest.warns(ResourceWarning, match="built on the meta device"):
        pipe = zoo.load(str(toy_spec))
    assert pipe.device.type == "meta"


def test_info_counts_without_allocating(monkeypatch):
    calls = []
    real = api.build_pipeline
    monkeypatch.setattr(api, "build_pipeline", lambda spec, meta=False: calls.append(meta) or real(spec, meta=meta))
    report = zoo.info("moviegen-video", height=576, width=1024, frames=256)
    assert calls == [True]
    assert report.latent_shape == (16, 32, 72, 128) and report.tokens == 32 * 36 * 64
    assert report.weights is None


def test_unknown_preset_suggests_closest():
    with pytest.raises(UnknownNameError) as info:
        zoo.load("moviegen-vidoe")
    assert "moviegen-video" in info.value.suggestions


def test_paper_preset_load_on_a_small_machine_builds_on_meta():
    # 38.7B parameters in float32 (155 GB) do not fit the project's machines: load must not allocate them.
    if (api.available_memory_bytes() or 0) > 200e9:
        pytest.skip("this machine could hold the paper model")
    with pytest.warns(ResourceWarning, match="moviegen-video-5b, moviegen-video-tiny"):
        pipe = zoo.load("moviegen-video")
    assert pipe.device.type == "meta"
    assert sum(pipe.parameter_counts().values()) > 3e10
